"""Redis cache (redis.asyncio), shared by every service process.

Each operation is one atomic Redis step: SET NX PX for the replay guard, and a small Lua script for
counters so the first increment and its expiry can never be separated by a crash or a race.
Connection failures surface as ServiceUnavailable (503), never as a library exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from adapter.cache.ttl import check_ttl, ttl_ms
from adapter.errors import ServiceUnavailable

# INCR, then start the window when the counter has none: on the first increment, and also to repair
# a counter that lost its expiry (PTTL -1), so a rate-limit key can never live forever.
_INCR_WITH_EXPIRY = """
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class RedisCache:
    def __init__(self, url: str, *, key_prefix: str = "dualcode:", timeout_s: float = 2.0) -> None:
        # Nothing connects here: the pool connects on first use, so a bad URL shows in ping().
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=False
        )
        self._prefix = key_prefix
        self._incr = self._client.register_script(_INCR_WITH_EXPIRY)

    async def get(self, key: str) -> bytes | None:
        async with _unavailable_on_failure():
            value = await self._client.get(self._k(key))
        return cast("bytes | None", value)

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None:
        px = ttl_ms(ttl_s)
        async with _unavailable_on_failure():
            await self._client.set(self._k(key), value, px=px)

    async def set_if_absent(self, key: str, value: bytes, *, ttl_s: float) -> bool:
        px = ttl_ms(ttl_s)
        async with _unavailable_on_failure():
            stored = await self._client.set(self._k(key), value, px=px, nx=True)
        return bool(stored)

    async def delete(self, key: str) -> None:
        async with _unavailable_on_failure():
            await self._client.delete(self._k(key))

    async def incr(self, key: str, *, ttl_s: float) -> int:
        check_ttl(ttl_s)
        async with _unavailable_on_failure():
            try:
                count: Any = await self._incr(keys=[self._k(key)], args=[ttl_ms(ttl_s)])
            except ResponseError:
                # INCR on a value that is not an integer: the same ValueError as the in-process cache.
                raise ValueError("the value at this key is not a counter") from None
        return int(count)

    async def ping(self) -> None:
        async with _unavailable_on_failure():
            await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()

    def _k(self, key: str) -> str:
        return self._prefix + key


@asynccontextmanager
async def _unavailable_on_failure() -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        # The detail (host, port, reason) goes to the log through the chained cause, not to clients.
        raise ServiceUnavailable("the cache (Redis) is unavailable") from exc
