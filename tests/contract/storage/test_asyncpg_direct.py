"""PostgreSQL: prepared statements run through asyncpg itself (``storage/sql/asyncpg_direct``), in the
unit of work's transaction, with errors mapped as SQLAlchemy's are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapter.errors import DuplicateKey
from adapter.storage import SqlStorage, Vault
from adapter.storage.records import AuditRecord
from adapter.storage.sql.asyncpg_direct import AsyncpgDirect

pytestmark = pytest.mark.postgres


@pytest.fixture
async def storage(request: pytest.FixtureRequest, vault: Vault) -> AsyncIterator[SqlStorage]:
    from tests.contract.storage.databases import empty_tables

    url: str = request.getfixturevalue("postgres_database")
    await empty_tables(url)
    store = SqlStorage(url, vault)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def direct_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    fetch, execute_many = AsyncpgDirect.fetch, AsyncpgDirect.execute_many

    async def counted_fetch(self: AsyncpgDirect, sql: str, arguments: Any) -> list[Any]:
        calls.append(sql.split()[0])
        return await fetch(self, sql, arguments)

    async def counted_many(self: AsyncpgDirect, sql: str, rows: Any) -> None:
        calls.append(sql.split()[0])
        await execute_many(self, sql, rows)

    monkeypatch.setattr(AsyncpgDirect, "fetch", counted_fetch)
    monkeypatch.setattr(AsyncpgDirect, "execute_many", counted_many)
    return calls


def _record(n: int) -> AuditRecord:
    return AuditRecord(
        id=f"audit-{n}",
        recorded_at=datetime(2026, 11, 30, 8, 0, n, tzinfo=UTC),
        agent="tester",
        action="R",
        operation="read Patient",
        outcome="0",
        patient_id=f"pat-{n}",
        detail={"n": str(n)},  # sealed: a bytea argument
    )


async def test_prepared_statements_go_through_asyncpg_and_answer_as_before(
    storage: SqlStorage, direct_calls: list[str]
) -> None:
    async with storage.unit_of_work() as uow:
        link = await uow.identities.link("urn:test:id", "A-1", "pat-1")  # a prepared write
        found = await uow.identities.find_many([("urn:test:id", "A-1"), ("urn:test:id", "B-2")])
        await uow.audit.record_many([_record(1), _record(2)])  # a bulk insert
    assert direct_calls and {"INSERT", "SELECT"} <= set(direct_calls)
    assert list(found) == [("urn:test:id", "A-1")]
    assert found[("urn:test:id", "A-1")].patient_id == "pat-1" == link.patient_id
    assert found[("urn:test:id", "A-1")].created_at.tzinfo is not None  # converted as before
    async with storage.unit_of_work(read_only=True) as uow:
        assert [r.id for r in await uow.audit.search(agent="tester")] == ["audit-2", "audit-1"]


async def test_a_statement_run_first_begins_the_units_transaction(
    storage: SqlStorage, direct_calls: list[str]
) -> None:
    with pytest.raises(RuntimeError, match="undone"):
        async with storage.unit_of_work() as uow:
            await uow.identities.link("urn:test:id", "A-1", "pat-1")  # the unit's first statement
            raise RuntimeError("undone")
    assert direct_calls[0] == "INSERT"
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.identities.find_many([("urn:test:id", "A-1")]) == {}  # rolled back


async def test_a_clash_is_a_duplicate_key(storage: SqlStorage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.audit.record_many([_record(1)])
    with pytest.raises(DuplicateKey):
        async with storage.unit_of_work() as uow:
            await uow.audit.record(_record(1))  # the same id: a prepared plain INSERT


async def test_without_the_adapters_names_everything_goes_through_sqlalchemy(
    storage: SqlStorage, direct_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapter.storage.sql.asyncpg_direct._ADAPTER_NEEDS", ("_no_such_attribute",))
    async with storage.unit_of_work() as uow:
        await uow.identities.link("urn:test:id", "A-1", "pat-1")
        found = await uow.identities.find_many([("urn:test:id", "A-1")])
    assert direct_calls == []
    assert found[("urn:test:id", "A-1")].patient_id == "pat-1"
