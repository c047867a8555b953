"""The intermediate table's inbound side on real SQLite and PostgreSQL: rows the HIS writes reach the
patient index (the person registered or updated, the HIS number linked as that hospital's identifier),
each once in effect, resumed after a restart, refusals recorded. Data is synthetic."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from adapter.outbox.dispatcher import Dispatcher, DispatcherOptions
from adapter.outbox.inbound import apply_rows, sender_of
from adapter.storage import SqlStorage, Storage, Vault
from his_connectors import parse_destinations
from his_connectors.sql_table import SqlTableConnector, inbound_table
from tests.contract.storage.conftest import POSTGRES, postgres_database, prepare_sql  # noqa: F401 (a fixture)

ID_SYSTEM = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
NUMBER_SYSTEM = "urn:dualcode:hospital:H0002:patient-number"
ZHANG, SUN = "371602198503151238", "371602197802223313"  # synthetic, valid in shape


def _person(id_number: str, family: str, given: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": ID_SYSTEM, "value": id_number}],
        "name": [{"family": family, "given": [given]}],
        "gender": "male",
        **extra,
    }


@pytest.fixture(params=["sqlite", POSTGRES])
async def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Storage, Dispatcher, str, str]]:
    """(our storage, a dispatcher with one sql_table destination, the HIS URL, its inbound table)."""
    ours = await prepare_sql(request.param, tmp_path, request)
    his = f"sqlite+aiosqlite:///{tmp_path}/his.sqlite" if request.param == "sqlite" else ours
    table = f"dc_in_{uuid.uuid4().hex[:8]}"
    config = parse_destinations(
        {
            "hospitals": {
                "H0002": {
                    "destinations": [
                        {
                            "name": "table",
                            "connector": "sql_table",
                            "endpoint": his,
                            "table": f"dc_out_{table[6:]}",
                            "inbound_table": table,
                            "create_tables": True,
                        }
                    ]
                }
            }
        }
    )
    storage = SqlStorage(ours, Vault.generate())
    dispatcher = Dispatcher(storage, config, options=DispatcherOptions(inbound_interval_s=0.05))
    try:
        yield storage, dispatcher, his, table
    finally:
        await dispatcher.stop()
        await storage.close()
        if request.param != "sqlite":
            engine = create_async_engine(his)
            async with engine.begin() as connection:
                await connection.execute(text(f'DROP TABLE IF EXISTS "{table}", "dc_out_{table[6:]}"'))
            await engine.dispose()


async def _write(his: str, table: str, *rows: tuple[str, dict[str, Any]]) -> None:
    """What the HIS does: append rows to its inbound table."""
    engine = create_async_engine(his)
    try:
        async with engine.begin() as connection:
            target = inbound_table(table, MetaData())
            await connection.execute(
                insert(target),
                [{"kind": k, "document": json.dumps(d, ensure_ascii=False), "written_at": datetime.now(UTC)}
                 for k, d in rows],
            )  # fmt: skip
    finally:
        await engine.dispose()


async def _patient_of(storage: Storage, system: str, value: str) -> dict[str, Any] | None:
    async with storage.unit_of_work(read_only=True) as uow:
        link = await uow.identities.find(system, value)
        return None if link is None else (await uow.resources.read("Patient", link.patient_id)).body


async def test_his_rows_reach_the_patient_index_once(setup: tuple[Storage, Dispatcher, str, str]) -> None:
    storage, dispatcher, his, table = setup
    reader = dispatcher.inbound_reader()
    assert reader is not None
    await reader.run_once()  # creates the HIS tables (dev/test setting), reads nothing
    born = _person(ZHANG, "张", "伟", birthDate="1985-03-15")
    await _write(
        his,
        table,
        ("patient.created", {"patientNumber": "0012345", "patient": _person(ZHANG, "张", "伟")}),
        ("patient.updated", {"patientNumber": "0012345", "patient": born}),
        ("appointment", {"patientNumber": "0099999"}),
        ("patient", {"patient": {**_person(SUN, "孙", "强"), "identifier": [
            {"system": ID_SYSTEM, "value": SUN}, {"system": NUMBER_SYSTEM, "value": "0077"}]}}),
        ("patient", {"patient": _person(SUN, "孙", "强")}),  # no HIS number: refused
    )  # fmt: skip
    assert await reader.run_once() == 5

    zhang = await _patient_of(storage, NUMBER_SYSTEM, "0012345")
    assert zhang is not None and zhang == await _patient_of(storage, ID_SYSTEM, ZHANG)
    assert {"system": NUMBER_SYSTEM, "value": "0012345"} in [
        {k: i[k] for k in ("system", "value")} for i in zhang["identifier"]
    ]
    assert zhang["birthDate"] == "1985-03-15"  # the update was applied
    sun = await _patient_of(storage, NUMBER_SYSTEM, "0077")
    assert sun is not None and sun["id"] != zhang["id"]

    async with storage.unit_of_work(read_only=True) as uow:
        events = [(e.topic, e.ordering_key) for e in await uow.outbox.list(limit=100)]
        recorded = await uow.messages.list(sender="table:H0002:table", limit=10)
    assert ("patient.created", f"Patient/{zhang['id']}") in events
    assert ("patient.created", f"Patient/{sun['id']}") in events
    by_row = {m.control_id: m for m in recorded}
    assert [by_row[str(n)].status for n in range(1, 6)] == [
        "processed",
        "processed",
        "error",
        "processed",
        "error",
    ]
    assert "unknown kind" in (by_row["3"].error or "") and "patient number" in (by_row["5"].error or "")
    assert by_row["1"].patient_id == zhang["id"]

    # Read twice (a crash before the cursor moved, a second reader): nothing happens twice.
    async with storage.unit_of_work(read_only=True) as uow:
        before = (
            len(await uow.outbox.list(limit=1000)),
            (await uow.resources.read("Patient", zhang["id"])).version_id,
        )
    source = SqlTableConnector(his, inbound=table)
    try:
        rows = await source.read_inbound(after=0)
    finally:
        await source.close()
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert await apply_rows(storage, reader.index, dispatcher.config.destinations[0], rows) == 5
    async with storage.unit_of_work(read_only=True) as uow:
        after = (
            len(await uow.outbox.list(limit=1000)),
            (await uow.resources.read("Patient", zhang["id"])).version_id,
        )
        assert len(await uow.messages.list(sender=sender_of(dispatcher.config.destinations[0]))) == 5
    assert after == before

    # A restart resumes after the last recorded row: nothing is read again.
    restarted = Dispatcher(storage, dispatcher.config)
    try:
        again = restarted.inbound_reader()
        assert again is not None and await again.run_once() == 0
    finally:
        await restarted.stop()  # closes its connectors


async def test_the_running_dispatcher_reads_new_rows(setup: tuple[Storage, Dispatcher, str, str]) -> None:
    storage, dispatcher, his, table = setup
    await dispatcher.start()
    for _ in range(100):  # the tables exist once the reader's first round ran
        if await _table_exists(his, table):
            break
        await asyncio.sleep(0.05)
    await _write(his, table, ("patient", {"patientNumber": "A-1", "patient": _person(ZHANG, "张", "伟")}))
    for _ in range(100):
        if await _patient_of(storage, NUMBER_SYSTEM, "A-1") is not None:
            break
        await asyncio.sleep(0.05)
    assert await _patient_of(storage, NUMBER_SYSTEM, "A-1") is not None


async def _table_exists(his: str, table: str) -> bool:
    engine = create_async_engine(his)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1'))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()
