"""AuditLog and ClientStore contracts."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from adapter.errors import DuplicateKey
from adapter.security.audit_writer import AuditWriter
from adapter.storage import Storage
from tests.contract.storage.synthetic import audit_record, client


async def test_record_many_writes_each_record_once(storage: Storage) -> None:
    records = [audit_record(f"m{n}", patient_id="pat-m") for n in range(5)]
    async with storage.unit_of_work() as uow:
        await uow.audit.record(records[1])
    async with storage.unit_of_work() as uow:
        await uow.audit.record_many(records)  # a retried batch: m1 is written already
        await uow.audit.record_many(records[:2])
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.audit.search(patient_id="pat-m") == [records[n] for n in (4, 3, 2, 0, 1)]


async def test_stopping_the_audit_writer_mid_flush_loses_and_repeats_nothing(storage: Storage) -> None:
    writer = AuditWriter(storage, flush_interval_s=0.001, max_batch=50)
    await writer.start()
    for n in range(1_000):
        await writer.submit(audit_record(f"w{n}", patient_id="pat-w"))
        if n % 37 == 0:
            await asyncio.sleep(0.0005)  # let the timer start flushes, so stop() meets one
    await writer.stop()
    assert writer.pending == 0
    async with storage.unit_of_work(read_only=True) as uow:
        assert len(await uow.audit.search(patient_id="pat-w", limit=5_000)) == 1_000


async def test_audit_records_newest_first_with_filters(storage: Storage) -> None:
    records = [
        audit_record("a1", patient_id="pat-a"),
        audit_record("a2", patient_id="pat-b", agent="client-b"),
        replace(audit_record("a3", patient_id="pat-a"), source_ip=None, detail={}),
        audit_record("a4"),
    ]
    async with storage.unit_of_work() as uow:
        for record in records:
            await uow.audit.record(record)
        with pytest.raises(DuplicateKey):
            await uow.audit.record(records[0])
    async with storage.unit_of_work() as uow:
        everything = await uow.audit.search()
        assert everything == list(reversed(records))
        assert [r.id for r in await uow.audit.search(patient_id="pat-a")] == ["a3", "a1"]
        assert [r.id for r in await uow.audit.search(agent="client-b")] == ["a2"]
        assert [r.id for r in await uow.audit.search(patient_id="pat-a", agent="client-b")] == []
        assert [r.id for r in await uow.audit.search(limit=1)] == ["a4"]


async def test_clients(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.clients.add(client("pharmacy-b"))
        await uow.clients.add(client("Admin-1", roles=("admin", "his")))
        await uow.clients.add(client("pharmacy-a"))
        with pytest.raises(DuplicateKey):
            await uow.clients.add(client("pharmacy-a"))
    async with storage.unit_of_work() as uow:
        assert await uow.clients.get("Admin-1") == client("Admin-1", roles=("admin", "his"))
        assert await uow.clients.get("nobody") is None
        assert [c.client_id for c in await uow.clients.list()] == ["Admin-1", "pharmacy-a", "pharmacy-b"]
