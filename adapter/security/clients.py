"""API client registration and authentication (OAuth 2.0 client credentials).

``authenticate`` takes the same time whether the client id is unknown, the secret wrong or the
client inactive: it always runs exactly one scrypt verification, and every failure is the same
InvalidClient. scrypt runs in a worker thread so a login never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from adapter.errors import InvalidClient, InvalidRequest, InvalidTokenRequest
from adapter.security.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    dummy_verify,
    generate_secret,
    hash_secret,
    verify_secret,
)
from adapter.security.scopes import validate_roles
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import ClientRecord

MAX_ID_CHARS = 128
MAX_SECRET_CHARS = 256  # far above our 43-character secrets; bounds the work one request can cause


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ClientRegistry:
    def __init__(
        self, *, params: ScryptParams = DEFAULT_PARAMS, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._params = params
        self._clock = clock

    async def add(
        self, uow: UnitOfWork, name: str, roles: Iterable[str], organization: str | None = None
    ) -> tuple[str, str]:
        """Register a client; returns (client_id, client_secret). The secret is stored only hashed
        and cannot be recovered: this return value is the one time anyone sees it."""
        checked_roles = validate_roles(roles)
        if not name.strip():
            raise InvalidRequest("a client needs a name")
        client_id = f"dc-{secrets.token_hex(12)}"
        client_secret = generate_secret()
        secret_hash = await asyncio.to_thread(hash_secret, client_secret, self._params)
        await uow.clients.add(
            ClientRecord(
                client_id=client_id,
                name=name.strip(),
                roles=checked_roles,
                secret_hash=secret_hash,
                created_at=self._clock(),
                organization=organization,
            )
        )
        return client_id, client_secret

    async def authenticate(self, uow: UnitOfWork, client_id: str, client_secret: str) -> ClientRecord:
        """The active client these credentials belong to, or InvalidClient (no hint which part)."""
        record = None
        if 0 < len(client_id) <= MAX_ID_CHARS:
            record = await uow.clients.get(client_id)
        if len(client_secret) > MAX_SECRET_CHARS:
            client_secret, record = "", None  # still spend one verification below
        if record is None:
            await asyncio.to_thread(dummy_verify, client_secret)
            raise InvalidClient()
        matches = await asyncio.to_thread(verify_secret, client_secret, record.secret_hash)
        if not matches or not record.active:
            raise InvalidClient()
        return record


def client_credentials_from(authorization_header: str | None, form: Mapping[str, str]) -> tuple[str, str]:
    """(client_id, client_secret) from client_secret_basic or client_secret_post (RFC 6749 §2.3.1).

    With Basic, id and secret are each form-urlencoded before base64, so they are decoded again.
    A request that uses both methods is refused (§2.3: one method per request).
    """
    if authorization_header:
        if form.get("client_secret"):
            raise InvalidTokenRequest("use one client authentication method, not both")
        client_id, client_secret = _from_basic(authorization_header)
        if form.get("client_id") not in (None, "", client_id):
            raise InvalidTokenRequest("client_id in the body differs from the Authorization header")
        return client_id, client_secret
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not client_secret:
        raise InvalidClient()
    return client_id, client_secret


def _from_basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise InvalidClient()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient() from None
    raw_id, colon, raw_secret = decoded.partition(":")
    client_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    if not colon or not client_id or not client_secret:
        raise InvalidClient()
    return client_id, client_secret
