"""Keyed asyncio locks: serialise work per key (a patient, a message) without a lock per key forever.

Messages on one connection are already sequential; these keep two connections from interleaving the
handling of the same patient (an A08 from one feed never runs while an A04 from another is half
done) or executing the same (sender, control id) twice at once. One process only: several processes
on one database rely on the database's own uniqueness rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    __slots__ = ("_locks",)

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        """Keys currently held or waited for (the table empties itself when work ends)."""
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        """Hold the lock of ``key``; None holds nothing (a message without a patient key)."""
        if key is None:
            yield
            return
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
