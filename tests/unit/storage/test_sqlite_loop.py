"""SQLite on the event-loop thread: no worker threads, never blocking the loop on a lock, and every
connection back in the pool however a unit of work ends (the contract suite covers the rest)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event

from adapter.errors import ResourceNotFound, ServiceUnavailable
from adapter.storage import SqlStorage, Vault, migrate
from adapter.storage.sql import sqlite_loop
from adapter.storage.sql.engine import READ_ONLY

PATIENT = {"resourceType": "Patient", "id": "p1"}


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    path = tmp_path / "db" / "dualcode.sqlite"
    await migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite+aiosqlite", "sqlite"])
async def storage(request: pytest.FixtureRequest, database: Path) -> AsyncIterator[SqlStorage]:
    # pool_size=1: one reader connection plus the writer's, so a leaked connection shows at once.
    store = SqlStorage(f"{request.param}:///{database}", Vault.generate(), pool_size=1)
    try:
        yield store
    finally:
        await store.close()


async def _both_kinds_open(storage: SqlStorage) -> None:
    """A reader and a writer at once: needs every connection of the pool back."""
    async with asyncio.timeout(2):
        async with storage.unit_of_work(read_only=True) as reader, storage.unit_of_work() as writer:
            await reader.resources.search("Patient", [])
            await writer.resources.search("Patient", [])


async def test_statements_run_on_the_loop_thread(storage: SqlStorage) -> None:
    threads: set[int] = set()
    statements: list[str] = []

    def record(*_: object) -> None:
        threads.add(threading.get_ident())

    def traced(sql: str) -> None:
        # Hot statements bypass SQLAlchemy (the driver runs them): SQLite's own trace sees them all.
        # A writer's COMMIT alone runs on the commit thread (it waits for the disk).
        statements.append(sql)
        if sql.strip().upper() != "COMMIT":
            threads.add(threading.get_ident())

    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(traced)

    event.listen(Engine, "before_cursor_execute", record)
    event.listen(Engine, "connect", trace)
    try:
        async with storage.unit_of_work() as uow:
            await uow.resources.create(dict(PATIENT))
        async with storage.unit_of_work(read_only=True) as uow:
            assert (await uow.resources.read("Patient", "p1")).version_id == 1
    finally:
        event.remove(Engine, "before_cursor_execute", record)
        event.remove(Engine, "connect", trace)
    assert any(s.startswith("BEGIN IMMEDIATE") for s in statements)  # the trace saw the writer
    assert any(s.lstrip().upper().startswith("INSERT") for s in statements)
    assert threads == {threading.get_ident()}


async def test_a_cancelled_writer_rolls_back_and_returns_its_connection(storage: SqlStorage) -> None:
    inside = asyncio.Event()

    async def write() -> None:
        async with storage.unit_of_work() as uow:
            await uow.resources.create(dict(PATIENT))
            inside.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(write())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _both_kinds_open(storage)  # the write lock is free and the connections are back
    async with storage.unit_of_work(read_only=True) as uow:
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Patient", "p1")


async def test_a_cancelled_reader_returns_its_connection(storage: SqlStorage) -> None:
    inside = asyncio.Event()

    async def read() -> None:
        async with storage.unit_of_work(read_only=True) as uow:
            await uow.resources.search("Patient", [])
            inside.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(read())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _both_kinds_open(storage)


async def test_readers_beyond_the_pool_queue_and_run_beside_a_writer(storage: SqlStorage) -> None:
    writing, done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with storage.unit_of_work() as uow:
            await uow.resources.create(dict(PATIENT))
            writing.set()
            await done.wait()  # holds the write lock while the readers run

    async def reader() -> int:
        async with storage.unit_of_work(read_only=True) as uow:
            found = await uow.resources.search("Patient", [])
            await asyncio.sleep(0.01)
            return len(found)

    task = asyncio.create_task(writer())
    await writing.wait()
    async with asyncio.timeout(2):
        assert await asyncio.gather(*(reader() for _ in range(5))) == [0] * 5  # not yet committed
    done.set()
    await task


async def test_a_foreign_writer_delays_ours_without_blocking_the_loop(
    storage: SqlStorage, database: Path
) -> None:
    foreign = sqlite3.connect(database, isolation_level=None)  # another process, as far as we know
    try:
        foreign.execute("BEGIN IMMEDIATE")

        async def write() -> None:
            async with storage.unit_of_work() as uow:
                await uow.resources.create(dict(PATIENT))

        task = asyncio.create_task(write())
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.005)
            ticks += 1
        assert ticks == 20 and not task.done()  # the loop ran on while our writer waited
        async with storage.unit_of_work(read_only=True) as uow:  # readers do not wait at all
            assert await uow.resources.search("Patient", []) == []
        foreign.execute("ROLLBACK")
        async with asyncio.timeout(2):
            await task
    finally:
        foreign.close()
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.resources.read("Patient", "p1")).version_id == 1


async def test_a_foreign_writer_that_never_ends_makes_the_database_unavailable(
    storage: SqlStorage, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_loop, "SQLITE_BUSY_TIMEOUT_MS", 100)
    foreign = sqlite3.connect(database, isolation_level=None)
    try:
        foreign.execute("BEGIN IMMEDIATE")
        with pytest.raises(ServiceUnavailable):
            async with storage.unit_of_work() as uow:
                await uow.resources.create(dict(PATIENT))
        foreign.execute("ROLLBACK")
    finally:
        foreign.close()
    await _both_kinds_open(storage)


async def test_each_unit_of_work_lets_other_tasks_run(storage: SqlStorage) -> None:
    ran = asyncio.Event()

    async def mark() -> None:
        ran.set()

    other = asyncio.create_task(mark())
    async with storage.unit_of_work(read_only=True) as uow:
        await uow.resources.search("Patient", [])
    assert ran.is_set()  # statements never suspend; the unit itself gave the loop a turn
    await other


async def test_a_writer_cancelled_while_committing_waits_for_the_commit(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    committing = asyncio.Event()
    loop = asyncio.get_running_loop()
    commit = Connection.commit

    def slow_commit(conn: Connection) -> None:
        loop.call_soon_threadsafe(committing.set)
        time.sleep(0.1)  # on the commit thread, as fsync would be
        commit(conn)

    monkeypatch.setattr(Connection, "commit", slow_commit)

    async def write() -> None:
        async with storage.unit_of_work() as uow:
            await uow.resources.create(dict(PATIENT))

    task = asyncio.create_task(write())
    await committing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.undo()
    await _both_kinds_open(storage)  # the connection came back only after its COMMIT ended
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.resources.read("Patient", "p1")).version_id == 1


# Group commit: grouped units share one transaction and one COMMIT, each in a savepoint of its own.


class Boom(Exception):
    pass


def _count_commits(monkeypatch: pytest.MonkeyPatch, *, delay_s: float = 0.0, fail: bool = False) -> list[int]:
    """Count COMMITs (each is one fsync); optionally slow, as a disk is, or failing."""
    commits: list[int] = []
    commit = Connection.commit

    def counted(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY, False):
            return commit(conn)  # a reader's end of snapshot: no write, no fsync
        commits.append(threading.get_ident())
        time.sleep(delay_s)
        if fail:
            raise sqlite3.OperationalError("disk I/O error")
        commit(conn)

    monkeypatch.setattr(Connection, "commit", counted)
    return commits


async def _create(storage: SqlStorage, patient_id: str, *, fail: bool = False) -> None:
    async with storage.unit_of_work(grouped=True) as uow:
        await uow.resources.create({"resourceType": "Patient", "id": patient_id})
        if fail:
            raise Boom


async def _stored(storage: SqlStorage) -> set[str]:
    async with storage.unit_of_work(read_only=True) as uow:
        return {p.id for p in await uow.resources.search("Patient", [])}


async def test_grouped_units_arriving_together_share_one_commit(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = _count_commits(monkeypatch, delay_s=0.02)
    await _create(storage, "first")  # alone: its own commit
    assert len(commits) == 1
    # While a slow commit is in flight, the next ten arrive: they run in one transaction.
    first = asyncio.create_task(_create(storage, "lead"))
    await asyncio.sleep(0.005)
    await asyncio.gather(first, *(_create(storage, f"p{n}") for n in range(10)))
    assert len(commits) <= 3  # "lead" alone, then the ten together (at most split once)
    monkeypatch.undo()
    assert await _stored(storage) == {"first", "lead", *(f"p{n}" for n in range(10))}
    await _both_kinds_open(storage)


async def test_a_grouped_unit_returns_only_once_committed(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = _count_commits(monkeypatch, delay_s=0.05)
    missing: list[str] = []

    async def create_then_look(patient_id: str) -> None:
        await _create(storage, patient_id)
        if patient_id not in await _stored(storage):  # another connection: committed data only
            missing.append(patient_id)

    await asyncio.gather(*(create_then_look(f"p{n}") for n in range(5)))
    assert missing == []
    assert 1 <= len(commits) < 5
    monkeypatch.undo()
    assert await _stored(storage) == {f"p{n}" for n in range(5)}


async def test_a_failing_grouped_unit_rolls_back_alone(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = _count_commits(monkeypatch, delay_s=0.02)
    blocker = asyncio.create_task(_create(storage, "lead"))
    await asyncio.sleep(0.005)  # the next ones queue into one group behind its commit
    results = await asyncio.gather(
        _create(storage, "a"), _create(storage, "b", fail=True), _create(storage, "c"), return_exceptions=True
    )
    await blocker
    assert [type(r) for r in results] == [type(None), Boom, type(None)]
    assert len(commits) == 2
    monkeypatch.undo()
    assert await _stored(storage) == {"lead", "a", "c"}
    await _both_kinds_open(storage)


async def test_a_failed_group_commit_fails_every_member_and_keeps_nothing(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    _count_commits(monkeypatch, fail=True)
    results = await asyncio.gather(*(_create(storage, f"p{n}") for n in range(4)), return_exceptions=True)
    assert all(isinstance(r, ServiceUnavailable) for r in results)
    monkeypatch.undo()
    assert await _stored(storage) == set()
    await _create(storage, "after")  # the writer is usable again
    assert await _stored(storage) == {"after"}
    await _both_kinds_open(storage)


async def test_members_see_earlier_members_and_plain_writers_take_turns(storage: SqlStorage) -> None:
    async def second_sees_first() -> bool:
        async with storage.unit_of_work(grouped=True) as uow:
            return "g1" in {p.id for p in await uow.resources.search("Patient", [])}

    async def plain(patient_id: str) -> None:
        async with storage.unit_of_work() as uow:
            await uow.resources.create({"resourceType": "Patient", "id": patient_id})

    first = asyncio.create_task(_create(storage, "g1"))
    sees = asyncio.create_task(second_sees_first())
    await asyncio.gather(first, plain("plain"), _create(storage, "g2"))
    assert await sees
    assert await _stored(storage) == {"g1", "plain", "g2"}


async def test_a_grouped_unit_cancelled_while_its_group_commits_waits_for_the_commit(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    _count_commits(monkeypatch, delay_s=0.1)
    task = asyncio.create_task(_create(storage, "p1"))
    await asyncio.sleep(0.03)  # in the commit by now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.undo()
    await _both_kinds_open(storage)
    assert await _stored(storage) == {"p1"}  # committed with its group: cancelling came too late


async def test_grouped_units_meeting_a_foreign_writer_that_never_ends_are_unavailable(
    storage: SqlStorage, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_loop, "SQLITE_BUSY_TIMEOUT_MS", 100)
    foreign = sqlite3.connect(database, isolation_level=None)
    try:
        foreign.execute("BEGIN IMMEDIATE")
        results = await asyncio.gather(*(_create(storage, f"p{n}") for n in range(3)), return_exceptions=True)
        assert all(isinstance(r, ServiceUnavailable) for r in results)
        foreign.execute("ROLLBACK")
    finally:
        foreign.close()
    await _create(storage, "after")
    assert await _stored(storage) == {"after"}
    await _both_kinds_open(storage)


async def test_a_member_that_ends_the_whole_transaction_fails_its_group_and_nothing_is_kept(
    database: Path,
) -> None:
    units = sqlite_loop.SqliteLoopUnits(f"sqlite:///{database}", readers=1)
    insert = (
        "INSERT INTO clients (client_id, name, roles, secret_hash, created_at, active)"
        " VALUES (?, ?, ?, ?, ?, ?)"
    )

    async def member(name: str, *, end_it: bool = False) -> None:
        async with units.transaction(read_only=False, grouped=True) as conn:
            await conn.exec_driver_sql(insert, [(name, name, "[]", "x", "2026-11-29 00:00:00", 1)])
            if end_it:  # what SQLite does itself on a full disk or an I/O error
                await conn.exec_driver_sql("ROLLBACK", [])
                raise Boom

    try:
        results = await asyncio.gather(
            member("a"), member("b", end_it=True), member("c"), return_exceptions=True
        )
        assert isinstance(results[1], Boom)
        assert isinstance(results[0], ServiceUnavailable) and isinstance(results[2], ServiceUnavailable)
        async with units.transaction(read_only=True) as conn:
            rows = (await conn.exec_driver_sql("SELECT client_id FROM clients", [])).all()
        assert rows == []
        await member("after")  # the writer is usable again
    finally:
        await units.close()
