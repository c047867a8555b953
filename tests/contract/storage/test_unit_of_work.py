"""Unit of work contract: all or nothing, and nothing usable after it ends."""

from __future__ import annotations

import asyncio

import pytest

from adapter.errors import ResourceNotFound
from adapter.storage import Storage
from tests.contract.storage.synthetic import ID_SYSTEM, audit_record, client, identifier_token, patient


class Boom(Exception):
    pass


async def test_an_exception_rolls_back_every_store(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        kept, _ = await uow.resources.create(patient(id="kept"))
    with pytest.raises(Boom):
        async with storage.unit_of_work() as uow:
            await uow.resources.create(
                patient("TEST-3001", id="lost"), tokens=[identifier_token("TEST-3001")]
            )
            await uow.resources.update(patient(id="kept", active=True))
            await uow.identities.link(ID_SYSTEM, "TEST-3001", "lost")
            await uow.messages.add(sender="HIS-A", control_id="MSG3001", raw=b"raw")
            await uow.outbox.add(
                topic="patient.created", destination="*", ordering_key="Patient/lost", payload={}
            )
            await uow.audit.record(audit_record("audit-3001", patient_id="lost"))
            await uow.clients.add(client("client-3001"))
            raise Boom
    async with storage.unit_of_work() as uow:
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Patient", "lost")
        assert await uow.resources.read("Patient", "kept") == kept
        assert await uow.resources.search("Patient", [identifier_token("TEST-3001")]) == []
        assert await uow.identities.find(ID_SYSTEM, "TEST-3001") is None
        assert await uow.messages.find("HIS-A", "MSG3001") is None
        assert await uow.outbox.list() == []
        assert await uow.audit.search() == []
        assert await uow.clients.get("client-3001") is None
    # What was rolled back can be written again (no leftover keys or counters in the way).
    async with storage.unit_of_work() as uow:
        await uow.resources.create(patient(id="lost"))
        await uow.identities.link(ID_SYSTEM, "TEST-3001", "lost")
        event = await uow.outbox.add(topic="t", destination="*", ordering_key="k", payload={})
        assert event.seq >= 1


async def test_a_store_cannot_be_used_after_its_unit_of_work(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        await uow.resources.read("Patient", "x")


async def test_ping(storage: Storage) -> None:
    await storage.ping()


async def test_a_read_only_unit_reads_committed_data_and_refuses_writes(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        stored, _ = await uow.resources.create(patient(id="ro-1"))
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.resources.read("Patient", "ro-1") == stored
        with pytest.raises(RuntimeError, match="read-only"):
            await uow.resources.create(patient(id="ro-2"))
        with pytest.raises(RuntimeError, match="read-only"):
            await uow.audit.record(audit_record("audit-ro", patient_id="ro-1"))
    async with storage.unit_of_work() as uow:
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Patient", "ro-2")
        assert await uow.audit.search() == []


async def test_grouped_units_keep_the_unit_of_work_guarantees(storage: Storage) -> None:
    """Units that may share a transaction (SQLite's group commit) still commit or roll back each on
    its own, and are committed when they leave their block."""

    async def create(patient_id: str, *, fail: bool = False) -> str:
        async with storage.unit_of_work(grouped=True) as uow:
            await uow.resources.create(patient(id=patient_id))
            await uow.messages.add(sender="HIS-A", control_id=f"G-{patient_id}", raw=b"raw")
            if fail:
                raise Boom
        async with storage.unit_of_work(read_only=True) as uow:  # committed when the block is left
            return (await uow.resources.read("Patient", patient_id)).id

    results = await asyncio.gather(
        *(create(f"grouped-{n}", fail=n == 2) for n in range(5)), return_exceptions=True
    )
    assert [r if isinstance(r, str) else type(r) for r in results] == [
        "grouped-0",
        "grouped-1",
        Boom,
        "grouped-3",
        "grouped-4",
    ]
    async with storage.unit_of_work() as uow:
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Patient", "grouped-2")
        assert await uow.messages.find("HIS-A", "G-grouped-2") is None
        assert await uow.messages.find("HIS-A", "G-grouped-3") is not None
