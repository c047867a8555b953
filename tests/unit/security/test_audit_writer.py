from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adapter.errors import ServiceUnavailable
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.storage.memory import MemoryStorage
from adapter.storage.records import AuditRecord


def record(n: int) -> AuditRecord:
    return Auditor().build(agent=f"client-{n}", action="R", operation="read Patient", patient_id="p1")


async def stored(storage: MemoryStorage) -> int:
    async with storage.unit_of_work(read_only=True) as uow:
        return len(await uow.audit.search(limit=10_000))


async def test_records_are_written_in_batches_and_flushed_on_stop() -> None:
    storage = MemoryStorage()
    writer = AuditWriter(storage, flush_interval_s=0.02)
    await writer.start()
    for n in range(250):
        await writer.submit(record(n))
    await asyncio.sleep(0.1)
    assert await stored(storage) == 250 and writer.pending == 0
    await writer.submit(record(999))
    await writer.stop()  # flushes what the timer has not taken yet
    assert await stored(storage) == 251


class FailingAudit:
    """The audit log of a unit of work whose database gives way after the first record."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def record_many(self, records: Any) -> None:
        await self._inner.record(records[0])
        raise ServiceUnavailable("the database went away")


async def test_a_failed_batch_stays_queued_and_is_retried() -> None:
    storage = MemoryStorage()
    writer = AuditWriter(storage, flush_interval_s=60)
    await writer.submit(record(1))
    await writer.submit(record(2))
    real_unit_of_work = storage.unit_of_work

    @asynccontextmanager
    async def failing_unit_of_work(**options: Any) -> AsyncIterator[Any]:
        async with real_unit_of_work(**options) as uow:
            uow.audit = FailingAudit(uow.audit)
            yield uow

    storage.unit_of_work = failing_unit_of_work  # type: ignore[method-assign]
    await writer.flush()
    storage.unit_of_work = real_unit_of_work  # type: ignore[method-assign]
    assert writer.pending == 2  # nothing dropped
    assert await stored(storage) == 0  # nothing half-written
    await writer.flush()
    assert writer.pending == 0 and await stored(storage) == 2


async def test_a_batch_written_before_is_not_written_twice() -> None:
    storage = MemoryStorage()
    writer = AuditWriter(storage, flush_interval_s=60)
    first, second = record(1), record(2)
    for one in (first, second):
        await writer.submit(one)
    async with storage.unit_of_work() as uow:
        await uow.audit.record(first)  # a retry after a commit whose answer was lost
    await writer.flush()
    assert writer.pending == 0 and await stored(storage) == 2


async def test_submitters_wait_when_too_many_records_are_pending() -> None:
    storage = MemoryStorage()
    writer = AuditWriter(storage, flush_interval_s=60, max_pending=3)
    for n in range(3):
        await writer.submit(record(n))
    blocked = asyncio.create_task(writer.submit(record(3)))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    await writer.flush()
    await asyncio.wait_for(blocked, 1)
    assert writer.pending == 1
