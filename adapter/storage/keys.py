"""Loading key material from Settings: data keys, blind index key, token signing key.

Inline values (base64 ``SecretStr``) win over files. Missing files are generated with 0600 permissions
when ``create_missing_keys`` is on (development); production mounts them and turns creation off.

Data key file format: ``{"active": "<kid>", "keys": {"<kid>": "<base64 32 bytes>", ...}}``. To
rotate, add a new key and make it active; keep the old ones so existing values still decrypt. An
inline ``data_key`` becomes the active key "env"; keys from an existing file stay loaded beside it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from adapter.settings import Settings
from adapter.storage.vault import KeyMaterialError, Vault

INLINE_KID = "env"


def load_vault(settings: Settings) -> Vault:
    keys, active = _data_keys(settings)
    index_key = _secret(
        settings.blind_index_key,
        settings.blind_index_key_file,
        create=settings.create_missing_keys,
        what="blind index key",
    )
    return Vault(keys, active=active, blind_index_key=index_key)


def load_token_signing_key(settings: Settings) -> bytes:
    """The HMAC key that signs access tokens (at least 32 bytes)."""
    return _secret(
        settings.token_signing_key,
        settings.token_signing_key_file,
        create=settings.create_missing_keys,
        what="token signing key",
    )


def _data_keys(settings: Settings) -> tuple[dict[str, bytes], str]:
    path = settings.data_keys_file
    if settings.data_key is not None:
        keys = _read_key_file(path)[1] if path.exists() else {}
        keys[INLINE_KID] = _b64(settings.data_key.get_secret_value(), "data_key", size=32)
        return keys, INLINE_KID
    if not path.exists():
        if not settings.create_missing_keys:
            raise KeyMaterialError("the data key file is missing and create_missing_keys is off")
        kid = secrets.token_hex(4)
        document = {"active": kid, "keys": {kid: _new_key_b64()}}
        _create_file(path, lambda: json.dumps(document, indent=2) + "\n")
    active, keys = _read_key_file(path)
    return keys, active


def _read_key_file(path: Path) -> tuple[str, dict[str, bytes]]:
    try:
        document = json.loads(path.read_text("utf-8"))
        active = document["active"]
        raw_keys = document["keys"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyMaterialError(f"the data key file {path} is unreadable or malformed") from exc
    if not isinstance(active, str) or not isinstance(raw_keys, dict) or active not in raw_keys:
        raise KeyMaterialError(f"the data key file {path} must name an active key among its keys")
    keys = {str(kid): _b64(value, f"key {kid!r} in {path}", size=32) for kid, value in raw_keys.items()}
    return active, keys


def _secret(inline: SecretStr | None, path: Path, *, create: bool, what: str) -> bytes:
    if inline is not None:
        return _b64(inline.get_secret_value(), what, minimum=32)
    if not path.exists():
        if not create:
            raise KeyMaterialError(f"the {what} file is missing and create_missing_keys is off")
        _create_file(path, lambda: _new_key_b64() + "\n")
    try:
        text = path.read_text("ascii")
    except (OSError, ValueError) as exc:
        raise KeyMaterialError(f"the {what} file {path} is unreadable") from exc
    return _b64(text.strip(), f"{what} in {path}", minimum=32)


def _create_file(path: Path, content: Callable[[], str]) -> None:
    """Create a 0600 file atomically: written in full under a temporary name, then hard-linked into
    place, so a process starting at the same moment never reads half a key. Whoever links first wins;
    the other keeps the winner's file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(content())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def _new_key_b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _b64(value: object, what: str, *, size: int | None = None, minimum: int = 0) -> bytes:
    if not isinstance(value, str):
        raise KeyMaterialError(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise KeyMaterialError(f"{what} is not valid base64") from None
    if size is not None and len(raw) != size:
        raise KeyMaterialError(f"{what} must decode to {size} bytes")
    if len(raw) < minimum:
        raise KeyMaterialError(f"{what} must decode to at least {minimum} bytes")
    return raw
