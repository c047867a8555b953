"""Static codes verified moments ago are answered again without the platform; nothing else is kept."""

from __future__ import annotations

from dataclasses import replace

from adapter.cards import TransientToken
from adapter.cards.context import ScanContext
from adapter.cards.ehc import ehc_holder
from adapter.cards.holder import CardHolder
from adapter.cards.platforms import CardPlatforms
from adapter.cards.recent import RecentVerifications
from tests.unit.cards.test_answers import EHC_DATA, TODAY

HOLDER = ehc_holder(EHC_DATA, today=TODAY)
CONTEXT = ScanContext(organization="H0001", step="registration")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingPlatform:
    """A platform that answers every verification with ``holder`` and counts the calls."""

    def __init__(self, holder: CardHolder) -> None:
        self.holder = holder
        self.calls = 0

    async def verify(self, code: str, context: ScanContext) -> CardHolder:
        self.calls += 1
        return self.holder

    async def aclose(self) -> None:
        return None


def platforms(ehc: CountingPlatform, ttl_s: float) -> CardPlatforms:
    other = CountingPlatform(HOLDER)
    return CardPlatforms(
        essc=other,  # type: ignore[arg-type]
        ehc=ehc,  # type: ignore[arg-type]
        nhsa=other,  # type: ignore[arg-type]
        ssc=other,  # type: ignore[arg-type]
        recent=RecentVerifications(ttl_s),
    )


def test_a_static_code_is_kept_until_its_time_is_up() -> None:
    clock = Clock()
    recent = RecentVerifications(60, clock=clock)
    recent.keep("ehc\x00A:1", HOLDER)
    clock.now += 59
    assert recent.get("ehc\x00A:1") is HOLDER
    clock.now += 1
    assert recent.get("ehc\x00A:1") is None


def test_one_use_codes_are_never_kept_and_zero_keeps_nothing() -> None:
    dynamic = replace(HOLDER, tokens=(TransientToken("ehc-code", "A:0:FF", "ehc"),))
    recent = RecentVerifications(60)
    recent.keep("dynamic", dynamic)
    assert recent.get("dynamic") is None
    off = RecentVerifications(0)
    off.keep("static", HOLDER)
    assert off.get("static") is None


def test_the_oldest_code_goes_first_when_full() -> None:
    recent = RecentVerifications(60, capacity=2)
    for code in ("a", "b", "c"):
        recent.keep(code, HOLDER)
    assert [recent.get(c) is not None for c in ("a", "b", "c")] == [False, True, True]


async def test_platforms_ask_once_for_a_static_code_and_every_time_with_ttl_zero() -> None:
    kept = CountingPlatform(HOLDER)
    cached = platforms(kept, 60)
    for _ in range(3):
        assert await cached.verify("A:1", CONTEXT, kind="ehc") is HOLDER
    assert kept.calls == 1
    asked = CountingPlatform(HOLDER)
    uncached = platforms(asked, 0)
    for _ in range(3):
        await uncached.verify("A:1", CONTEXT, kind="ehc")
    assert asked.calls == 3
