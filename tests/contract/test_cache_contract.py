"""One contract for every Cache: the in-process cache and the real Redis behave alike.

The Redis run uses the server behind the ``redis_url`` fixture (skips without it, fails under
CI=true). Each test gets its own key prefix and removes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import math
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from adapter.cache import Cache, InProcessCache, RedisCache, open_cache
from adapter.errors import ServiceUnavailable
from adapter.settings import Settings

SHORT_TTL = 0.2  # seconds; sleeps below leave at least 100 ms of margin either side


@pytest.fixture(params=["in_process", pytest.param("redis", marks=pytest.mark.redis)])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "in_process":
        memory = InProcessCache()
        yield memory
        await memory.close()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix = f"dualcode-test:{uuid.uuid4().hex}:"
    real = RedisCache(url, key_prefix=prefix)
    try:
        yield real
    finally:
        await real.close()
        admin = aioredis.Redis.from_url(url)
        try:
            keys = [key async for key in admin.scan_iter(match=prefix + "*")]
            if keys:
                await admin.delete(*keys)
        finally:
            await admin.aclose()


# --- get / set / delete ----------------------------------------------------------------------------


async def test_get_of_a_missing_key_is_none(cache: Cache) -> None:
    assert await cache.get("missing") is None


async def test_set_then_get_returns_the_bytes_and_set_overwrites(cache: Cache) -> None:
    await cache.set("k", b"\x00first\xff", ttl_s=30)
    assert await cache.get("k") == b"\x00first\xff"
    await cache.set("k", "第二".encode(), ttl_s=30)
    assert await cache.get("k") == "第二".encode()


async def test_a_value_expires_after_its_ttl(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_s=SHORT_TTL)
    assert await cache.get("k") == b"v"
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get("k") is None


async def test_delete_removes_and_deleting_a_missing_key_is_fine(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_s=30)
    await cache.delete("k")
    assert await cache.get("k") is None
    await cache.delete("never-set")


async def test_keys_are_independent(cache: Cache) -> None:
    await cache.set("a", b"1", ttl_s=30)
    await cache.set("b", b"2", ttl_s=30)
    await cache.delete("a")
    assert await cache.get("b") == b"2"


@pytest.mark.parametrize("ttl", [0, -1, math.inf, math.nan])
async def test_every_entry_must_expire(cache: Cache, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await cache.set("k", b"v", ttl_s=ttl)
    with pytest.raises(ValueError, match="ttl_s"):
        await cache.set_if_absent("k", b"v", ttl_s=ttl)
    with pytest.raises(ValueError, match="ttl_s"):
        await cache.incr("k", ttl_s=ttl)
    assert await cache.get("k") is None


async def test_a_sub_millisecond_ttl_still_stores_then_expires(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_s=0.0004)
    await asyncio.sleep(0.05)
    assert await cache.get("k") is None


# --- set_if_absent (replay guard) ------------------------------------------------------------------


async def test_set_if_absent_stores_once(cache: Cache) -> None:
    assert await cache.set_if_absent("nonce", b"first", ttl_s=30) is True
    assert await cache.set_if_absent("nonce", b"second", ttl_s=30) is False
    assert await cache.get("nonce") == b"first"


async def test_set_if_absent_succeeds_again_after_expiry(cache: Cache) -> None:
    assert await cache.set_if_absent("nonce", b"1", ttl_s=SHORT_TTL) is True
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.set_if_absent("nonce", b"2", ttl_s=30) is True
    assert await cache.get("nonce") == b"2"


async def test_set_if_absent_after_delete_succeeds(cache: Cache) -> None:
    assert await cache.set_if_absent("nonce", b"1", ttl_s=30)
    await cache.delete("nonce")
    assert await cache.set_if_absent("nonce", b"2", ttl_s=30)


async def test_twenty_concurrent_set_if_absent_have_exactly_one_winner(cache: Cache) -> None:
    values = [f"caller-{i}".encode() for i in range(20)]
    results = await asyncio.gather(*(cache.set_if_absent("race", v, ttl_s=30) for v in values))
    assert results.count(True) == 1
    winner = values[results.index(True)]
    assert await cache.get("race") == winner


# --- counters (rate limits) ------------------------------------------------------------------------


async def test_incr_counts_from_one_and_get_reads_the_count(cache: Cache) -> None:
    assert [await cache.incr("hits", ttl_s=30) for _ in range(3)] == [1, 2, 3]
    assert await cache.get("hits") == b"3"


async def test_a_counter_expires_and_restarts_at_one(cache: Cache) -> None:
    assert await cache.incr("hits", ttl_s=SHORT_TTL) == 1
    assert await cache.incr("hits", ttl_s=SHORT_TTL) == 2
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get("hits") is None
    assert await cache.incr("hits", ttl_s=SHORT_TTL) == 1


async def test_later_increments_do_not_extend_the_window(cache: Cache) -> None:
    # Fixed window: it starts at the first increment. Extending it would let a steady client
    # never be reset, so the third call (after the window) must start again at 1.
    assert await cache.incr("hits", ttl_s=0.4) == 1
    await asyncio.sleep(0.25)
    assert await cache.incr("hits", ttl_s=0.4) == 2
    await asyncio.sleep(0.25)
    assert await cache.incr("hits", ttl_s=0.4) == 1


async def test_concurrent_increments_are_not_lost(cache: Cache) -> None:
    results = await asyncio.gather(*(cache.incr("hits", ttl_s=30) for _ in range(50)))
    assert sorted(results) == list(range(1, 51))
    assert await cache.get("hits") == b"50"


async def test_incr_on_a_value_that_is_not_a_counter_is_an_error(cache: Cache) -> None:
    await cache.set("k", b"not a number", ttl_s=30)
    with pytest.raises(ValueError, match="not a counter"):
        await cache.incr("k", ttl_s=30)
    assert await cache.get("k") == b"not a number"


async def test_incr_continues_a_counter_written_with_set(cache: Cache) -> None:
    await cache.set("k", b"41", ttl_s=30)
    assert await cache.incr("k", ttl_s=30) == 42


# --- health ----------------------------------------------------------------------------------------


async def test_ping_answers(cache: Cache) -> None:
    await cache.ping()


# --- implementation specifics ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_unreachable_redis_is_service_unavailable() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{_closed_port()}/0", timeout_s=0.5)
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            await cache.ping()
        assert raised.value.http_status == 503
        assert "127.0.0.1" not in raised.value.message  # no internal detail for clients
        with pytest.raises(ServiceUnavailable):
            await cache.get("k")
    finally:
        await cache.close()


async def test_a_closed_in_process_cache_does_not_answer_ping() -> None:
    cache = InProcessCache()
    await cache.close()
    with pytest.raises(ServiceUnavailable):
        await cache.ping()


async def test_open_cache_is_in_process_without_a_redis_url() -> None:
    cache = open_cache(Settings(redis_url=None))
    try:
        assert isinstance(cache, InProcessCache)
    finally:
        await cache.close()


@pytest.mark.redis
async def test_open_cache_is_redis_with_a_redis_url(redis_url: str) -> None:
    cache = open_cache(Settings(redis_url=SecretStr(redis_url)))
    try:
        assert isinstance(cache, RedisCache)
        await cache.ping()
    finally:
        await cache.close()


@pytest.mark.redis
async def test_redis_keys_carry_the_prefix_so_deployments_can_share_a_server(redis_url: str) -> None:
    prefix = f"dualcode-test:{uuid.uuid4().hex}:"
    cache = RedisCache(redis_url, key_prefix=prefix)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await cache.incr("hits", ttl_s=30)
        assert await admin.get(prefix + "hits") == b"1"
        assert 0 < await admin.pttl(prefix + "hits") <= 30_000
    finally:
        await admin.delete(prefix + "hits")
        await admin.aclose()
        await cache.close()


@pytest.mark.redis
async def test_redis_repairs_a_counter_that_lost_its_expiry(redis_url: str) -> None:
    prefix = f"dualcode-test:{uuid.uuid4().hex}:"
    cache = RedisCache(redis_url, key_prefix=prefix)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await admin.set(prefix + "hits", b"5")  # no expiry, as if written by something else
        assert await cache.incr("hits", ttl_s=30) == 6
        assert await admin.pttl(prefix + "hits") > 0
    finally:
        await admin.delete(prefix + "hits")
        await admin.aclose()
        await cache.close()
