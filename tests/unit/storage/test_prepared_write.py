"""Prepared writes (``prepared.PreparedWrite`` run by ``SqlContext.write``) and ``execute_driver`` on
SQLite: the stdlib driver runs them on the loop thread, inside the unit's transaction, with the values,
RETURNING rows and errors SQLAlchemy's execution gives. (On PostgreSQL they are an ordinary execute;
the contract suite runs every store on both.)"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select

from adapter.errors import DuplicateKey
from adapter.storage import SqlStorage, Vault, migrate
from adapter.storage.ports import ReadOnlyViolation
from adapter.storage.shared import UtcClock
from adapter.storage.sql.bulk import compiled_insert
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.prepared import PreparedWrite
from adapter.storage.sql.schema import outbox, search_tokens

_ADD = PreparedWrite(
    insert(outbox)
    .values(
        id=bindparam("id"),
        topic=bindparam("topic"),
        destination="*",
        ordering_key="Patient/1",
        payload=bindparam("payload", type_=outbox.c.payload.type),
        created_at=bindparam("at", type_=outbox.c.created_at.type),
        status="pending",  # values the statement fixes itself are bound too
        attempts=0,
    )
    .returning(outbox.c.seq, outbox.c.created_at, outbox.c.status, outbox.c.attempts)
)
_TOKENS = ("resource_type", "param", "hash", "resource_id")


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqlStorage]:
    path = tmp_path / "db" / "dualcode.sqlite"
    await migrate(f"sqlite+aiosqlite:///{path}")
    store = SqlStorage(f"sqlite:///{path}", Vault.generate(), pool_size=1)
    try:
        yield store
    finally:
        await store.close()


def _context(conn: Any, *, read_only: bool = False) -> SqlContext:
    return SqlContext(conn, vault=Vault.generate(), clock=UtcClock(), read_only=read_only)


def _row(event_id: str, at: datetime) -> dict[str, Any]:
    return {"id": event_id, "topic": "t", "payload": b"x", "at": at}


async def test_a_prepared_write_returns_what_sqlalchemy_returns(storage: SqlStorage) -> None:
    at = datetime(2026, 11, 29, 2, 15, 0, 123456, tzinfo=UTC)
    async with storage._units.transaction(read_only=False) as conn:
        ctx = _context(conn)
        (prepared,) = await ctx.write(_ADD, _row("e1", at))
        (ordinary,) = (await ctx.execute(_ADD.statement, _row("e2", at))).all()
        stored = (await ctx.execute(select(outbox.c.id, outbox.c.created_at).order_by(outbox.c.seq))).all()
    assert (prepared.created_at, prepared.status, prepared.attempts) == (at, "pending", 0)
    assert prepared.created_at.tzinfo is not None
    assert (ordinary.created_at, ordinary.status, ordinary.attempts) == (at, "pending", 0)
    assert ordinary.seq == prepared.seq + 1
    assert [(r.id, r.created_at) for r in stored] == [("e1", at), ("e2", at)]


async def test_a_clash_is_duplicate_key_and_the_unit_goes_on(storage: SqlStorage) -> None:
    at = datetime.now(UTC)
    async with storage._units.transaction(read_only=False) as conn:
        ctx = _context(conn)
        await ctx.write(_ADD, _row("same", at))
        with pytest.raises(DuplicateKey):
            await ctx.write(_ADD, _row("same", at))  # uq_outbox_id
        await ctx.write(_ADD, _row("other", at))
    async with storage._units.transaction(read_only=True) as conn:
        ids = [r.id for r in (await _context(conn).execute(select(outbox.c.id).order_by(outbox.c.seq))).all()]
    assert ids == ["same", "other"]


async def test_a_read_only_unit_refuses_prepared_and_driver_writes(storage: SqlStorage) -> None:
    async with storage._units.transaction(read_only=True) as conn:
        ctx = _context(conn, read_only=True)
        with pytest.raises(ReadOnlyViolation):
            await ctx.write(_ADD, _row("e1", datetime.now(UTC)))
        with pytest.raises(ReadOnlyViolation):
            await ctx.execute_driver("INSERT INTO search_tokens VALUES (?, ?, ?, ?)", [("a", "b", "c", "d")])


async def test_driver_writes_run_on_the_loop_thread_in_the_units_transaction(storage: SqlStorage) -> None:
    seen: list[tuple[int, str]] = []
    async with storage._units.transaction(read_only=False) as conn:
        driver = conn._conn.connection.driver_connection
        driver.set_trace_callback(lambda sql: seen.append((threading.get_ident(), sql)))
        try:
            ctx = _context(conn)
            await ctx.write(_ADD, _row("e1", datetime.now(UTC)))
            sql = compiled_insert(ctx, search_tokens, _TOKENS)
            rows = [("Patient", "name", "h1", "p1"), ("Patient", "name", "h2", "p1")]
            assert await ctx.execute_driver(sql, rows) == 2
            with pytest.raises(DuplicateKey):
                await ctx.execute_driver(sql, rows[:1])  # the token's primary key
        finally:
            driver.set_trace_callback(None)
    inserts = [(thread, sql) for thread, sql in seen if sql.startswith("INSERT")]
    assert {thread for thread, _ in inserts} == {threading.get_ident()}
    assert any("INTO outbox" in sql for _, sql in inserts)
    assert any("INTO search_tokens" in sql for _, sql in inserts)
    async with storage._units.transaction(read_only=True) as conn:  # committed with the unit
        count = (await _context(conn).execute(select(search_tokens.c.hash))).all()
    assert sorted(r.hash for r in count) == ["h1", "h2"]


async def test_a_unit_that_fails_rolls_back_its_driver_writes(storage: SqlStorage) -> None:
    with pytest.raises(RuntimeError):
        async with storage._units.transaction(read_only=False) as conn:
            await _context(conn).write(_ADD, _row("e1", datetime.now(UTC)))
            raise RuntimeError("after the write")
    async with storage._units.transaction(read_only=True) as conn:
        assert (await _context(conn).execute(select(outbox.c.id))).all() == []
