"""Signed, expiring bearer tokens (JWT, HS256) for the client-credentials grant.

Claims: iss, sub (client id), scope (space-separated, RFC 9068), roles, organization (when the
client has one), iat, exp, jti; header
typ ``at+jwt``. Verification pins the algorithm (no ``none``, no key confusion) and the issuer, and
every failure (expired, forged, wrong issuer, malformed) is the same InvalidToken with no hint.

Verified tokens are remembered (a bounded LRU keyed by the token string, ``cache_size``): a client
sends the same token with every request until it expires, and checking the signature and claims
again cost tens of µs per request. What the cache holds is the outcome of a full verification with
this service's key, which cannot change for that string; the times are still checked against the
clock on every use, so an expired token fails exactly as without the cache. Failures are not cached.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from adapter.errors import InvalidToken

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JWT header type (RFC 9068), not a secret
MIN_KEY_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least as long as the hash output
_REQUIRED = ["iss", "sub", "scope", "iat", "exp", "jti"]
DEFAULT_CACHE_SIZE = 4096  # verified tokens remembered per process (a few hundred bytes each)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says. ``scopes`` feeds ``scopes.allows``."""

    issuer: str
    client_id: str
    scopes: frozenset[str]
    roles: tuple[str, ...]
    issued_at: int
    expires_at: int
    token_id: str
    organization: str | None = None

    @property
    def scope(self) -> str:
        return " ".join(sorted(self.scopes))


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """The token endpoint's answer (RFC 6749 §5.1) before rendering."""

    token: str  # the access_token value
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class TokenService:
    def __init__(
        self,
        signing_key: bytes,
        *,
        issuer: str,
        ttl_s: int,
        leeway_s: int = 30,
        clock: Callable[[], float] = time.time,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if len(signing_key) < MIN_KEY_BYTES:
            raise ValueError(f"the signing key must be at least {MIN_KEY_BYTES} bytes")
        if ttl_s < 1 or leeway_s < 0 or cache_size < 0:
            raise ValueError("ttl_s must be positive, leeway_s and cache_size not negative")
        self._key = signing_key
        self._issuer = issuer
        self._ttl_s = ttl_s
        self._leeway_s = leeway_s  # tolerated clock skew between this and other service processes
        self._clock = clock
        self._cache_size = cache_size
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()

    def issue(
        self,
        client_id: str,
        *,
        scopes: Iterable[str],
        roles: Iterable[str] = (),
        organization: str | None = None,
    ) -> IssuedToken:
        now = int(self._clock())
        scope = " ".join(sorted(set(scopes)))
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": client_id,
            "scope": scope,
            "roles": sorted(set(roles)),
            "iat": now,
            "exp": now + self._ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if organization is not None:
            claims["organization"] = organization
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})
        return IssuedToken(token=token, expires_in=self._ttl_s, scope=scope)

    def verify(self, token: str) -> TokenClaims:
        """Claims of a valid token; InvalidToken for anything else, always with the same message."""
        cached = self._verified.get(token)
        if cached is not None:
            if not self._in_time(cached):
                del self._verified[token]
                raise InvalidToken()
            self._verified.move_to_end(token)
            return cached
        result = self._verify_signed(token)
        if self._cache_size:
            self._verified[token] = result
            if len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        return result

    def _in_time(self, claims: TokenClaims) -> bool:
        now = self._clock()
        return claims.expires_at + self._leeway_s > now and claims.issued_at - self._leeway_s <= now

    def _verify_signed(self, token: str) -> TokenClaims:
        try:
            if jwt.get_unverified_header(token).get("typ") != TOKEN_TYPE:
                raise InvalidToken()
            # Times are checked below against our own clock (the one issue() uses), not PyJWT's.
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
            )
            result = _claims(claims)
            if not self._in_time(result):
                raise InvalidToken()
            return result
        except (jwt.PyJWTError, TypeError, ValueError):
            raise InvalidToken() from None


def _claims(raw: dict[str, Any]) -> TokenClaims:
    # The signature proves we wrote the token; the shape check guards against our own past formats.
    scope, roles = raw["scope"], raw.get("roles", [])
    if not (isinstance(scope, str) and isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
        raise ValueError("unexpected claim shape")
    if not (isinstance(raw["sub"], str) and isinstance(raw["jti"], str) and raw["sub"]):
        raise ValueError("unexpected claim shape")
    if not all(type(raw[k]) is int for k in ("iat", "exp")):  # bool is an int subclass: exclude it
        raise ValueError("unexpected claim shape")
    organization = raw.get("organization")
    if organization is not None and not isinstance(organization, str):
        raise ValueError("unexpected claim shape")
    return TokenClaims(
        issuer=str(raw["iss"]),
        client_id=raw["sub"],
        scopes=frozenset(scope.split()),
        roles=tuple(roles),
        issued_at=raw["iat"],
        expires_at=raw["exp"],
        token_id=raw["jti"],
        organization=organization,
    )
