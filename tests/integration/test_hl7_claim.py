"""Execute-once for messages run after their CA, across processes: ``MessageStore.claim`` and the
recovery at start, on SQLite and PostgreSQL, with two storages on one database (as two workers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.senders import SenderTable
from adapter.security.audit import Auditor
from adapter.storage import SqlStorage, Vault
from tests.contract.storage.databases import (
    create_postgres_database,
    drop_postgres_database,
    run_outside_loop,
    sqlite_database,
)
from tests.unit.hl7v2.samples import adt


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of its own: a SQLite file, or a fresh PostgreSQL database, dropped after."""
    if request.param == "sqlite":
        yield run_outside_loop(lambda: sqlite_database(tmp_path))
        return
    base: str = request.getfixturevalue("postgres_url")
    url = create_postgres_database(base, "claim")
    try:
        yield url
    finally:
        drop_postgres_database(base, url)


def enhanced(control_id: str, patient: str) -> bytes:
    return adt(control_id, patient=patient, accept="AL", application_ack="AL").encode()


async def test_a_second_claim_waits_for_the_first_and_then_finds_the_ack(database: str) -> None:
    vault = Vault.generate()
    first, second = SqlStorage(database, vault), SqlStorage(database, vault)
    try:
        async with first.unit_of_work() as uow:
            stored, _ = await uow.messages.add(sender="HIS^H001", control_id="C1", raw=enhanced("C1", "P1"))
        claimed_again: asyncio.Task[bool] | None = None

        async def claim_from_second() -> bool:
            async with second.unit_of_work() as uow:
                return await uow.messages.claim(stored.id)

        async with first.unit_of_work() as uow:
            assert await uow.messages.claim(stored.id)
            claimed_again = asyncio.create_task(claim_from_second())
            await asyncio.sleep(0.3)
            assert not claimed_again.done()  # it waits for this unit
            await uow.messages.set_outcome(stored.id, status="processed", ack=b"MSH|ack")
        assert await asyncio.wait_for(claimed_again, 10) is False
        async with second.unit_of_work() as uow:
            assert not await uow.messages.claim(stored.id)
    finally:
        await first.close()
        await second.close()


async def test_two_workers_recovering_together_run_each_message_once(database: str) -> None:
    vault = Vault.generate()
    storages = [SqlStorage(database, vault) for _ in range(2)]
    try:
        async with storages[0].unit_of_work() as uow:  # CA'd by a worker that then died
            for n in range(12):
                await uow.messages.add(sender="HIS^H001", control_id=f"R{n}", raw=enhanced(f"R{n}", f"P{n}"))
        gateways = [
            Gateway(s, default_bindings(), senders=SenderTable(), auditor=Auditor()) for s in storages
        ]
        await asyncio.gather(*(g.recover() for g in gateways))
        async with storages[0].unit_of_work() as uow:
            messages = await uow.messages.list(sender="HIS^H001")
            patients = await uow.resources.search("Patient", [])
            audit = [a for a in await uow.audit.search() if a.operation == "hl7 ADT^A04"]
        assert len(messages) == 12 and {m.status for m in messages} == {"processed"}
        assert len(patients) == 12 and {p.version_id for p in patients} == {1}
        assert len(audit) == 12  # one execution each
    finally:
        for storage in storages:
            await storage.close()
