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

    def record(*_: object) -> None:
        threads.add(threading.get_ident())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        async with storage.unit_of_work() as uow:
            await uow.resources.create(dict(PATIENT))
        async with storage.unit_of_work(read_only=True) as uow:
            assert (await uow.resources.read("Patient", "p1")).version_id == 1
    finally:
        event.remove(Engine, "before_cursor_execute", record)
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
