"""The verified-token cache of TokenService: faster, never more permissive."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from adapter.errors import InvalidToken
from adapter.security.tokens import TokenService

KEY = b"k" * 32
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tokens that went through PyJWT's signature check."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: object, **kwargs: object) -> object:
        seen.append(token)
        return real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def make(clock: Clock, *, cache_size: int = 16, ttl_s: int = 60) -> TokenService:
    return TokenService(KEY, issuer="dualcode", ttl_s=ttl_s, leeway_s=30, clock=clock, cache_size=cache_size)


def test_a_token_is_checked_once_then_remembered(decodes: list[str]) -> None:
    tokens = make(Clock(T0))
    token = tokens.issue("dc-1", scopes=["system/Patient.r"]).token
    first = tokens.verify(token)
    assert tokens.verify(token) == first
    assert tokens.verify(token).client_id == "dc-1"
    assert decodes == [token]


def test_a_remembered_token_still_expires_on_time(decodes: list[str]) -> None:
    clock = Clock(T0)
    tokens = make(clock, ttl_s=60)
    token = tokens.issue("dc-1", scopes=()).token
    tokens.verify(token)
    clock.now = T0 + 60 + 29  # within the leeway: still good, from the cache
    assert tokens.verify(token).client_id == "dc-1"
    clock.now = T0 + 60 + 30
    with pytest.raises(InvalidToken):
        tokens.verify(token)
    with pytest.raises(InvalidToken):  # and stays refused (it went through a full check again)
        tokens.verify(token)
    assert decodes == [token, token]


def test_a_remembered_token_is_refused_by_a_clock_gone_back() -> None:
    clock = Clock(T0)
    tokens = make(clock)
    token = tokens.issue("dc-1", scopes=()).token
    tokens.verify(token)
    clock.now = T0 - 31  # issued in the future as far as this clock knows
    with pytest.raises(InvalidToken):
        tokens.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused() -> None:
    tokens = make(Clock(T0))
    token = tokens.issue("dc-1", scopes=["system/Patient.r"]).token
    tokens.verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "system/*.*"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        tokens.verify(f"{header}.{forged}.{signature}")


def test_failures_are_not_remembered(decodes: list[str]) -> None:
    tokens = make(Clock(T0))
    bad = TokenService(b"o" * 32, issuer="dualcode", ttl_s=60, clock=Clock(T0)).issue("x", scopes=()).token
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.verify(bad)
    assert decodes == [bad, bad]


def test_the_cache_is_bounded_least_recently_used_first(decodes: list[str]) -> None:
    tokens = make(Clock(T0), cache_size=2)
    a, b, c = (tokens.issue(f"dc-{n}", scopes=()).token for n in range(3))
    tokens.verify(a)
    tokens.verify(b)
    tokens.verify(a)  # a is now the most recent
    tokens.verify(c)  # evicts b
    decodes.clear()
    tokens.verify(a)
    tokens.verify(c)
    assert decodes == []
    tokens.verify(b)
    assert decodes == [b]


def test_cache_size_zero_checks_every_time(decodes: list[str]) -> None:
    tokens = make(Clock(T0), cache_size=0)
    token = tokens.issue("dc-1", scopes=()).token
    tokens.verify(token)
    tokens.verify(token)
    assert decodes == [token, token]
