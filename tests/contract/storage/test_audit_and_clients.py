"""AuditLog and ClientStore contracts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapter.errors import DuplicateKey
from adapter.storage import Storage
from tests.contract.storage.synthetic import audit_record, client


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
