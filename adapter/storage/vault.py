"""Encryption at rest (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Every ciphertext is a self-describing blob so keys can rotate: new writes use the active key, any key
still loaded decrypts what it wrote. Layout::

    version (1 byte, 0x01) | kid length (1 byte) | kid (ASCII) | nonce (12 bytes) | ciphertext + tag

The header is part of the authenticated data, so a blob cannot be re-labelled with another key id.
Callers pass ``aad`` naming what the value belongs to (e.g. ``Patient/123/2``): a ciphertext copied
into another row does not decrypt there.
"""

from __future__ import annotations

import binascii
import hashlib
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = 1
_NONCE_BYTES = 12
_KEY_BYTES = 32
_MIN_INDEX_KEY_BYTES = 32
_SHA256_BLOCK = 64
_URLSAFE = bytes.maketrans(b"+/", b"-_")


class VaultError(Exception):
    """A value cannot be encrypted or decrypted (unknown key id, tampered blob, wrong aad)."""


class KeyMaterialError(VaultError):
    """Key material is missing or malformed (configuration problem)."""


class Vault:
    """AES-256-GCM with rotating keys, plus an HMAC-SHA256 blind index on a separate key."""

    __slots__ = ("_active", "_aeads", "_index_inner", "_index_key", "_index_outer")

    def __init__(self, keys: Mapping[str, bytes], *, active: str, blind_index_key: bytes) -> None:
        if active not in keys:
            raise KeyMaterialError("the active data key id is not among the loaded keys")
        for kid, key in keys.items():
            if not kid or len(kid.encode("ascii", "replace")) > 255 or not kid.isascii():
                raise KeyMaterialError("data key ids must be 1-255 ASCII characters")
            if len(key) != _KEY_BYTES:
                raise KeyMaterialError("data keys must be 32 bytes (AES-256)")
        if len(blind_index_key) < _MIN_INDEX_KEY_BYTES:
            raise KeyMaterialError("the blind index key must be at least 32 bytes")
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active
        self._index_key = bytes(blind_index_key)
        # HMAC-SHA256 (RFC 2104) with the keyed inner and outer states computed once: a blind index
        # then costs two hash copies instead of a new HMAC object (about 5x faster; the import
        # computes ~35 per person).
        key = self._index_key
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._index_inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._index_outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    @classmethod
    def generate(cls, kid: str = "k1") -> Vault:
        """A vault with fresh random keys (tests, throw-away databases)."""
        return cls({kid: AESGCM.generate_key(256)}, active=kid, blind_index_key=os.urandom(32))

    @property
    def active_kid(self) -> str:
        return self._active

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> bytes:
        kid = self._active.encode("ascii")
        header = bytes((_VERSION, len(kid))) + kid
        nonce = os.urandom(_NONCE_BYTES)  # random 96-bit nonces: safe far beyond our write volume
        return header + nonce + self._aeads[self._active].encrypt(nonce, plaintext, header + aad)

    def decrypt(self, blob: bytes, *, aad: bytes) -> bytes:
        kid, header_len = self._parse_header(blob)
        aead = self._aeads.get(kid)
        if aead is None:
            raise VaultError("the value was encrypted with a key that is not loaded")
        nonce = blob[header_len : header_len + _NONCE_BYTES]
        try:
            return aead.decrypt(nonce, blob[header_len + _NONCE_BYTES :], blob[:header_len] + aad)
        except InvalidTag:
            raise VaultError("the value does not authenticate (wrong key, aad or tampered)") from None

    def key_id(self, blob: bytes) -> str:
        """The key id a blob was written with (to find values that need re-encryption)."""
        return self._parse_header(blob)[0]

    def blind_index(self, text: str) -> str:
        """Keyed, deterministic digest for equality lookups (43 characters, URL-safe base64)."""
        inner = self._index_inner.copy()
        inner.update(text.encode("utf-8"))
        outer = self._index_outer.copy()
        outer.update(inner.digest())
        return binascii.b2a_base64(outer.digest(), newline=False)[:43].translate(_URLSAFE).decode("ascii")

    @staticmethod
    def _parse_header(blob: bytes) -> tuple[str, int]:
        if len(blob) < 2 or blob[0] != _VERSION:
            raise VaultError("not a vault blob (unknown format version)")
        end = 2 + blob[1]
        if len(blob) < end + _NONCE_BYTES + 16:
            raise VaultError("truncated vault blob")
        return blob[2:end].decode("ascii", "replace"), end
