from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from adapter.errors import InvalidToken
from adapter.security.tokens import TokenClaims, TokenService

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def service(*, key: bytes = KEY, issuer: str = "dualcode", ttl_s: int = 300, clock: float | None = None,
            leeway_s: int = 30) -> TokenService:  # fmt: skip
    now = clock
    return TokenService(key, issuer=issuer, ttl_s=ttl_s, leeway_s=leeway_s,
                        clock=(lambda: now) if now is not None else time.time)  # fmt: skip


def test_issue_then_verify_round_trips_the_claims() -> None:
    tokens = service()
    issued = tokens.issue("dc-1", scopes={"system/Patient.rs", "dualcode/admin"}, roles=["admin"],
                          organization="org-1")  # fmt: skip
    assert issued.token_type == "Bearer" and issued.expires_in == 300
    assert issued.scope == "dualcode/admin system/Patient.rs"
    claims = tokens.verify(issued.token)
    assert isinstance(claims, TokenClaims)
    assert claims.client_id == "dc-1" and claims.issuer == "dualcode"
    assert claims.scopes == {"system/Patient.rs", "dualcode/admin"}
    assert claims.roles == ("admin",) and claims.organization == "org-1"
    assert claims.expires_at - claims.issued_at == 300
    assert len(claims.token_id) == 32
    with pytest.raises(AttributeError):
        claims.client_id = "other"  # type: ignore[misc]


def test_each_token_has_its_own_id() -> None:
    tokens = service()
    first, second = (tokens.verify(tokens.issue("dc-1", scopes=()).token) for _ in range(2))
    assert first.token_id != second.token_id


def test_an_expired_token_is_refused() -> None:
    past = service(clock=time.time() - 3600, ttl_s=60)
    token = past.issue("dc-1", scopes={"system/Patient.r"}).token
    with pytest.raises(InvalidToken):
        service().verify(token)


def test_expiry_allows_a_small_clock_skew() -> None:
    now = 1_700_000_000.0
    token = service(clock=now, ttl_s=60).issue("dc-1", scopes=()).token
    assert service(clock=now + 60 + 29).verify(token).client_id == "dc-1"
    with pytest.raises(InvalidToken):
        service(clock=now + 60 + 30).verify(token)
    with pytest.raises(InvalidToken):  # issued well in the future: another clock is badly wrong
        service(clock=now - 31).verify(token)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = service(key=OTHER_KEY).issue("dc-1", scopes={"system/*.cruds"}).token
    with pytest.raises(InvalidToken):
        service().verify(token)


def test_a_token_from_another_issuer_is_refused() -> None:
    token = service(issuer="someone-else").issue("dc-1", scopes=()).token
    with pytest.raises(InvalidToken):
        service().verify(token)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = service().issue("dc-1", scopes={"system/Patient.r"}).token.split(".")
    now = int(time.time())
    forged = {"iss": "dualcode", "sub": "dc-1", "scope": "system/*.cruds", "roles": ["admin"],
              "iat": now, "exp": now + 300, "jti": "x"}  # fmt: skip
    with pytest.raises(InvalidToken):
        service().verify(f"{header}.{_b64(forged)}.{signature}")


def test_alg_none_is_refused() -> None:
    now = int(time.time())
    claims = {"iss": "dualcode", "sub": "dc-1", "scope": "", "iat": now, "exp": now + 300, "jti": "x"}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."
    with pytest.raises(InvalidToken):
        service().verify(unsigned)


def test_a_validly_signed_token_of_another_shape_is_refused() -> None:
    now = int(time.time())
    base = {"iss": "dualcode", "sub": "dc-1", "scope": "", "iat": now, "exp": now + 300, "jti": "x"}
    shapes = [
        {k: v for k, v in base.items() if k != "jti"},  # missing claim
        {**base, "scope": ["system/Patient.r"]},  # scope not a string
        {**base, "exp": str(now + 300)},  # exp not a number
    ]
    for claims in shapes:
        token = jwt.encode(claims, KEY, algorithm="HS256", headers={"typ": "at+jwt"})
        with pytest.raises(InvalidToken):
            service().verify(token)
    id_token = jwt.encode(base, KEY, algorithm="HS256", headers={"typ": "JWT"})  # not an access token
    with pytest.raises(InvalidToken):
        service().verify(id_token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x", "é.é.é"])
def test_malformed_tokens_are_refused_with_one_message(garbage: str) -> None:
    with pytest.raises(InvalidToken) as raised:
        service().verify(garbage)
    assert raised.value.message == InvalidToken.default_message


def test_short_keys_and_bad_ttls_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenService(b"short", issuer="dualcode", ttl_s=60)
    with pytest.raises(ValueError, match="ttl_s"):
        TokenService(KEY, issuer="dualcode", ttl_s=0)
