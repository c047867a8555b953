"""Client secrets: generation, salted scrypt hashing, constant-time verification.

Stored form: ``scrypt$n=16384,r=8,p=1$<salt b64>$<hash b64>``. The parameters travel with each hash,
so they can be raised later without invalidating existing secrets. (Named ``passwords`` rather than
``secrets`` so it never shadows the standard-library module it uses.)

scrypt holds the CPU for tens of milliseconds and releases the GIL: async callers should run
``hash_secret``/``verify_secret``/``dummy_verify`` through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

SCHEME = "scrypt"
_FORMAT = re.compile(r"scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")
_MAXMEM = 64 * 1024 * 1024  # above the 16 MiB the defaults need; OpenSSL's own default is 32 MiB


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """Cost parameters. The defaults (n=2**14, r=8, p=1) are the classic interactive-login setting:
    about 50 ms and 16 MiB per verification on the reference machine."""

    n: int = 2**14
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    key_bytes: int = 32

    def __post_init__(self) -> None:
        # n must be a power of two above 1; the bounds also refuse a stored hash that would make
        # verification cost minutes or gigabytes.
        if not (2 <= self.n <= 2**20 and self.n & (self.n - 1) == 0):
            raise ValueError("scrypt n must be a power of two between 2 and 2**20")
        if not (1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise ValueError("scrypt r or p out of range")
        if not (16 <= self.salt_bytes <= 64 and 16 <= self.key_bytes <= 64):
            raise ValueError("salt and key sizes must be 16 to 64 bytes")


DEFAULT_PARAMS = ScryptParams()


def generate_secret() -> str:
    """A new client secret: 32 random bytes, URL-safe text (43 characters). Shown to its owner once."""
    return secrets.token_urlsafe(32)


def _derive(secret: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=_MAXMEM,
        dklen=params.key_bytes,
    )


def hash_secret(secret: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """Hash with a fresh random salt; the same secret never hashes to the same string twice."""
    salt = secrets.token_bytes(params.salt_bytes)
    digest = _derive(secret, salt, params)
    encoded = [base64.b64encode(part).decode("ascii") for part in (salt, digest)]
    return f"{SCHEME}$n={params.n},r={params.r},p={params.p}${encoded[0]}${encoded[1]}"


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes] | None:
    match = _FORMAT.fullmatch(stored)
    if match is None:
        return None
    try:
        salt = base64.b64decode(match[4], validate=True)
        digest = base64.b64decode(match[5], validate=True)
        params = ScryptParams(
            n=int(match[1]),
            r=int(match[2]),
            p=int(match[3]),
            salt_bytes=len(salt),
            key_bytes=len(digest),
        )
    except (binascii.Error, ValueError):
        return None
    return params, salt, digest


def verify_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` matches the stored hash. A malformed stored value never matches."""
    parsed = _parse(stored)
    if parsed is None:
        # Still spend the usual time: a damaged record should not be told apart by timing either.
        dummy_verify(secret)
        return False
    params, salt, expected = parsed
    return hmac.compare_digest(_derive(secret, salt, params), expected)


@functools.cache
def _dummy_hash() -> str:
    # Computed once per process with the default cost, so a dummy check costs what a real one does.
    return hash_secret(generate_secret())


def dummy_verify(secret: str) -> bool:
    """Spend the time of a real verification and return False (unknown client id, inactive client)."""
    parsed = _parse(_dummy_hash())
    assert parsed is not None  # our own output always parses
    params, salt, expected = parsed
    hmac.compare_digest(_derive(secret, salt, params), expected)
    return False


def needs_rehash(stored: str, params: ScryptParams = DEFAULT_PARAMS) -> bool:
    """True when a stored hash uses other parameters than ``params`` (rehash at next login)."""
    parsed = _parse(stored)
    return parsed is None or (parsed[0].n, parsed[0].r, parsed[0].p) != (params.n, params.r, params.p)
