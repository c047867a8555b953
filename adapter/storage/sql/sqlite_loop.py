"""SQLite units of work on the event-loop thread, with the stdlib sqlite3 driver.

SQLite answers a statement in tens of µs; aiosqlite's hand-off to a worker thread per call (queue,
wake-up, future) cost ~1 ms per statement here. So statements run synchronously on the loop thread:
one ``await`` per statement still, but nothing is awaited inside.

Nothing may block the loop, so:

- writers queue on an asyncio lock (one writer per process) and take SQLite's write lock with
  BEGIN IMMEDIATE; when another *process* holds it, the driver does not wait (busy_timeout=0):
  we retry with short asyncio sleeps, up to SQLITE_BUSY_TIMEOUT_MS in all, then ServiceUnavailable;
- a writer's COMMIT, which waits for fsync, runs on one worker thread (one hand-off per write
  unit, none per statement);
- each unit of work yields to the loop once as it starts (statements themselves never suspend);
- read-only units take no lock and run concurrently, each on its own connection, at most
  ``readers`` at once (a semaphore), so the pool always has a connection free and never waits.
  A reader takes its WAL snapshot right after BEGIN, where a rare SQLITE_BUSY (another process
  recovering or closing the database) can be retried the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Final

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Executable

from adapter.storage.sql.engine import READ_ONLY, SQLITE_BUSY_TIMEOUT_MS, make_sqlite_loop_engine

FIRST_RETRY_S: Final = 0.001
MAX_RETRY_S: Final = 0.05
_SNAPSHOT: Final = "SELECT 1 FROM sqlite_master LIMIT 1"  # any table read starts the read transaction


class LoopConnection:
    """What SqlContext awaits, over a sync Connection: the statement runs here, on the loop thread."""

    __slots__ = ("_conn", "dialect")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect: Dialect = conn.dialect

    async def execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        return self._conn.execute(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: list[tuple[Any, ...]]) -> CursorResult[Any]:
        return self._conn.exec_driver_sql(statement, parameters)


class SqliteLoopUnits:
    """Transactions for SqlStorage on SQLite. Use from one event loop only."""

    def __init__(self, url: str, *, readers: int) -> None:
        self._engine = make_sqlite_loop_engine(url, connections=readers + 1)  # + the writer
        self._read_engine = self._engine.execution_options(**{READ_ONLY: True})
        self._write_lock = asyncio.Lock()
        self._readers = asyncio.Semaphore(readers)
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-commit")

    @asynccontextmanager
    async def transaction(self, *, read_only: bool) -> AsyncIterator[LoopConnection]:
        # Statements never suspend, so a task running unit after unit would hold the loop: let the
        # other tasks run once per unit of work.
        await asyncio.sleep(0)
        async with self._readers if read_only else self._write_lock:
            conn = await self._begin(self._read_engine if read_only else self._engine, read_only)
            try:
                yield LoopConnection(conn)
            except BaseException:
                # Also on cancellation: sync, so the rollback itself cannot be interrupted.
                conn.rollback()
                raise
            else:
                if read_only:
                    conn.commit()  # ends the snapshot: no I/O
                else:
                    await self._commit_off_loop(conn)
            finally:
                conn.close()  # back to the pool

    async def ping(self) -> None:
        async with self.transaction(read_only=True) as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        self._committer.shutdown(wait=True)
        self._engine.dispose()

    async def _commit_off_loop(self, conn: Connection) -> None:
        """A writer's COMMIT waits for the disk (fsync, ~1 ms, at times tens): on a thread, so the
        loop runs on meanwhile. The connection is in use until the COMMIT ends, even if the task is
        cancelled while waiting: then wait it out, and re-raise the cancellation."""
        done = asyncio.get_running_loop().run_in_executor(self._committer, conn.commit)
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            while not done.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([done])
            if not done.cancelled():
                done.exception()  # retrieved: the cancellation is what the caller gets
            raise

    async def _begin(self, engine: Engine, read_only: bool) -> Connection:
        deadline: float | None = None
        delay = FIRST_RETRY_S
        while True:
            conn: Connection | None = None
            try:
                conn = engine.connect()  # a new connection's PRAGMAs can meet a busy database too
                conn.begin()  # BEGIN or BEGIN IMMEDIATE (the engine's "begin" hook)
                if read_only:
                    conn.exec_driver_sql(_SNAPSHOT).close()
                return conn
            except OperationalError as exc:
                if conn is not None:
                    conn.close()
                if not _is_busy(exc):
                    raise
                now = asyncio.get_running_loop().time()
                deadline = deadline or now + SQLITE_BUSY_TIMEOUT_MS / 1000
                if now >= deadline:
                    raise
            except BaseException:
                if conn is not None:
                    conn.close()
                raise
            await asyncio.sleep(delay)  # another process holds the lock: let the loop run meanwhile
            delay = min(delay * 2, MAX_RETRY_S)


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_BUSY
