"""In-process cache: a dict with monotonic-clock expiry, for one process (the embedded default).

Safe under asyncio without a lock: no method awaits between reading and writing an entry, so each
operation runs to completion inside one event-loop step, just as each Redis command is atomic.
It is not shared between processes: run more than one worker only with Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adapter.cache.ttl import check_ttl
from adapter.errors import ServiceUnavailable

# Expired entries are dropped when touched; a full sweep every this many writes bounds memory for
# keys nobody reads again (replay-guard keys are written once and never read).
_SWEEP_EVERY = 1024


class InProcessCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[bytes, float]] = {}  # key -> (value, expires_at)
        self._writes = 0
        self._closed = False

    async def get(self, key: str) -> bytes | None:
        entry = self._live(key)
        return None if entry is None else entry[0]

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None:
        self._store(key, bytes(value), ttl_s)

    async def set_if_absent(self, key: str, value: bytes, *, ttl_s: float) -> bool:
        check_ttl(ttl_s)
        if self._live(key) is not None:
            return False
        self._store(key, bytes(value), ttl_s)
        return True

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def incr(self, key: str, *, ttl_s: float) -> int:
        check_ttl(ttl_s)
        entry = self._live(key)
        if entry is None:
            self._store(key, b"1", ttl_s)
            return 1
        try:
            count = int(entry[0]) + 1
        except ValueError:
            # Same contract as Redis: INCR on a value that is not an integer is an error.
            raise ValueError("the value at this key is not a counter") from None
        # Later increments keep the window the first one started (fixed-window rate limit).
        self._entries[key] = (str(count).encode(), entry[1])
        return count

    async def ping(self) -> None:
        if self._closed:
            raise ServiceUnavailable("the in-process cache is closed")

    async def close(self) -> None:
        self._closed = True
        self._entries.clear()

    def _live(self, key: str) -> tuple[bytes, float] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry

    def _store(self, key: str, value: bytes, ttl_s: float) -> None:
        check_ttl(ttl_s)
        self._entries[key] = (value, self._clock() + ttl_s)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock()
            for stale in [k for k, (_, expires) in self._entries.items() if expires <= now]:
                del self._entries[stale]
