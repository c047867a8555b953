"""In-process cache details the shared contract cannot see: a controlled clock and the sweep."""

from __future__ import annotations

from adapter.cache.in_process import InProcessCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_expiry_follows_the_injected_monotonic_clock() -> None:
    clock = FakeClock()
    cache = InProcessCache(clock=clock)
    await cache.set("k", b"v", ttl_s=10)
    clock.now += 9.999
    assert await cache.get("k") == b"v"
    clock.now += 0.001
    assert await cache.get("k") is None


async def test_the_counter_window_starts_at_the_first_increment() -> None:
    clock = FakeClock()
    cache = InProcessCache(clock=clock)
    assert await cache.incr("hits", ttl_s=60) == 1
    clock.now += 59
    assert await cache.incr("hits", ttl_s=60) == 2
    clock.now += 1
    assert await cache.incr("hits", ttl_s=60) == 1


async def test_expired_keys_nobody_reads_are_swept() -> None:
    clock = FakeClock()
    cache = InProcessCache(clock=clock)
    for i in range(1000):
        await cache.set_if_absent(f"nonce-{i}", b"1", ttl_s=1)
    clock.now += 2
    for i in range(100):
        await cache.set(f"fresh-{i}", b"1", ttl_s=60)
    # The sweep at the 1024th write dropped every expired nonce; only the fresh keys remain.
    assert sorted(cache._entries) == sorted(f"fresh-{i}" for i in range(100))
