"""Audit records of read accesses, written in batches off the request path.

A read changes nothing, so there is no transaction to put its audit record in; writing one row per
read would turn every read into a write transaction (on SQLite: a queue behind the single writer).
The writer collects records and commits them together every ``flush_interval_s``. What this costs:
a crash can lose the reads of the last interval (default 50 ms); records of changes never take this
path: they commit in the change's own unit of work. ``stop()`` flushes everything; when the database
is down, records stay queued (up to ``max_pending``, then submitters wait) and are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adapter.storage.ports import Storage
from adapter.storage.records import AuditRecord

log = logging.getLogger("dualcode.audit")


class AuditWriter:
    def __init__(
        self,
        storage: Storage,
        *,
        flush_interval_s: float = 0.05,
        max_batch: int = 1000,
        max_pending: int = 20_000,
    ) -> None:
        self._storage = storage
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: list[AuditRecord] = []
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def submit(self, record: AuditRecord) -> None:
        """Queue a record; waits only when ``max_pending`` records are already queued (backpressure)."""
        while len(self._pending) >= self._max_pending:
            self._room.clear()
            await self._room.wait()
        self._pending.append(record)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._pending:
            log.error("audit records could not be written at shutdown", extra={"count": len(self._pending)})

    async def flush(self) -> None:
        async with self._flush_lock:
            while self._pending:
                batch = self._pending[: self._max_batch]
                try:
                    async with self._storage.unit_of_work() as uow:
                        await uow.audit.record_many(batch)
                except Exception:
                    log.exception("audit batch failed; will retry", extra={"count": len(batch)})
                    return
                del self._pending[: len(batch)]
                self._room.set()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if self._pending:
                # Shielded: stop() cancelling this task mid-commit must not leave a written batch
                # queued (it would be written again); stop()'s own flush waits for this one.
                await asyncio.shield(self.flush())
