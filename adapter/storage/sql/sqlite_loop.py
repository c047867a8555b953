"""SQLite units of work on the event-loop thread, with the stdlib sqlite3 driver.

SQLite answers a statement in tens of µs; aiosqlite's hand-off to a worker thread per call (queue,
wake-up, future) cost ~1 ms per statement here. So statements run synchronously on the loop thread:
one ``await`` per statement still, but nothing is awaited inside.

Nothing may block the loop, so:

- writers queue on an asyncio lock (one writer per process), then for the writers' turn across
  processes (``writer_lock``: an flock beside the database, which wakes the next process as soon
  as the previous one is done), and take SQLite's write lock with BEGIN IMMEDIATE; when it is
  still held (a process that does not take the turn), the driver does not wait (busy_timeout=0):
  we retry with short asyncio sleeps, up to SQLITE_BUSY_TIMEOUT_MS in all, then ServiceUnavailable;
- a writer's COMMIT, which waits for fsync, runs on one worker thread (one hand-off per write
  unit, none per statement);
- each unit of work yields to the loop once as it starts (statements themselves never suspend);
- read-only units take no lock and run concurrently, each on its own connection, at most
  ``readers`` at once (a semaphore), so the pool always has a connection free and never waits.
  A reader takes its WAL snapshot right after BEGIN, where a rare SQLITE_BUSY (another process
  recovering or closing the database) can be retried the same way.

Group commit (``transaction(grouped=True)``, opt-in): one COMMIT is one fsync (~1–10 ms), so a
writer per transaction caps writes at a few hundred a second however cheap each is. Grouped units
that arrive while a commit is in flight (or within ``group_window_s`` of the group's last unit)
share ONE transaction:

- a group has a leader task that takes the write lock and BEGINs; its members run one after
  another on that connection, each inside a SAVEPOINT of its own. A member that raises is rolled
  back to its savepoint alone and gets its exception at once; the others are unaffected;
- a member that finished waits for the group's COMMIT, so leaving the block still means "committed"
  (the caller may acknowledge then). If the COMMIT fails, every member that waited gets the error;
  nothing of the group is kept, so nothing was acknowledged that is not on disk;
- the group closes when no member is running and none arrived during the window (or it reached
  ``group_max`` members); the next grouped unit opens the next group, whose leader waits for the
  write lock meanwhile: while one group commits, the next fills up;
- members see each other's effects (one transaction): like consecutive units, in arrival order;
- an error that ends SQLite's whole transaction (disk full, I/O) poisons the group: every member
  fails, and nothing is committed.

Plain write units are unchanged: they take the write lock between groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import CursorResult, Dialect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Executable

from adapter.errors import ServiceUnavailable
from adapter.storage.sql.engine import READ_ONLY, SQLITE_BUSY_TIMEOUT_MS, driver_sql, make_sqlite_loop_engine
from adapter.storage.sql.writer_lock import WriterLock

FIRST_RETRY_S: Final = 0.001
MAX_RETRY_S: Final = 0.05
_SNAPSHOT: Final = "SELECT 1 FROM sqlite_master LIMIT 1"  # any table read starts the read transaction
GROUP_WINDOW_S: Final = 0.0  # 0: a group closes once its running members are done (one loop pass)
GROUP_MAX: Final = 256


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

    def write_driver(self, sql: str, arguments: Sequence[Any]) -> list[tuple[Any, ...]]:
        """A write run by the stdlib driver itself, in this unit's transaction; its RETURNING rows."""
        return self.fetch_driver(sql, arguments)

    def write_many_driver(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
        """executemany by the stdlib driver itself, in this unit's transaction; the rows written."""
        cursor = self._conn.connection.driver_connection.executemany(sql, rows)  # type: ignore[union-attr]
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def fetch_driver(self, sql: str, arguments: Sequence[Any]) -> list[tuple[Any, ...]]:
        """A read run by the stdlib driver itself, in this unit's transaction (see ``prepared``)."""
        cursor = self._conn.connection.driver_connection.execute(sql, arguments)  # type: ignore[union-attr]
        try:
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        finally:
            cursor.close()


class SqliteLoopUnits:
    """Transactions for SqlStorage on SQLite. Use from one event loop only."""

    def __init__(
        self,
        url: str,
        *,
        readers: int,
        group_window_s: float = GROUP_WINDOW_S,
        group_max: int = GROUP_MAX,
    ) -> None:
        self._engine = make_sqlite_loop_engine(url, connections=readers + 1)  # + the writer
        self._read_engine = self._engine.execution_options(**{READ_ONLY: True})
        self._write_lock = asyncio.Lock()
        self._writers_turn = WriterLock(_database_file(url))  # across processes
        self._readers = asyncio.Semaphore(readers)
        # Readers' connections are kept between units (checking one out of the pool and back
        # costs about as much as the reads of a card scan); at most ``readers`` of them.
        self._idle_readers: list[Connection] = []
        self._max_idle_readers = readers
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-commit")
        self._group: _Group | None = None  # the group grouped units join, while it is open
        self._leaders: set[asyncio.Task[None]] = set()
        self._group_window_s = group_window_s
        self._group_max = group_max
        self.groups = 0  # committed groups and their members: for tests and benchmarks
        self.grouped_units = 0

    @asynccontextmanager
    async def transaction(self, *, read_only: bool, grouped: bool = False) -> AsyncIterator[LoopConnection]:
        # Statements never suspend, so a task running unit after unit would hold the loop: let the
        # other tasks run once per unit of work.
        await asyncio.sleep(0)
        if grouped and not read_only:
            async with self._member() as member:
                yield member
            return
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
                if read_only and not conn.invalidated and len(self._idle_readers) < self._max_idle_readers:
                    self._idle_readers.append(conn)  # its transaction has ended either way
                else:
                    conn.close()  # back to the pool
                if not read_only:
                    self._writers_turn.release()

    async def ping(self) -> None:
        async with self.transaction(read_only=True) as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._leaders:  # groups still committing
            await asyncio.wait(set(self._leaders))
        self._committer.shutdown(wait=True)
        self._writers_turn.close()
        while self._idle_readers:
            self._idle_readers.pop().close()
        self._engine.dispose()

    @asynccontextmanager
    async def _member(self) -> AsyncIterator[LoopConnection]:
        """One grouped unit: join the open group (or open one), run in a savepoint when it is this
        member's turn, then wait for the group's commit."""
        group = self._group
        if group is None or group.closed or group.size >= self._group_max:
            group = self._group = _Group()
            leader = asyncio.create_task(self._lead(group), name="sqlite-group-commit")
            self._leaders.add(leader)  # a reference until it ends, and close() waits for it
            leader.add_done_callback(self._leaders.discard)
        group.join()
        try:
            async with group.turn:
                try:
                    conn = await asyncio.shield(group.ready)  # the leader's BEGIN (or its failure)
                except OperationalError:
                    raise  # busy for too long: the storage maps it
                except Exception as exc:
                    raise ServiceUnavailable("the database could not begin a transaction") from exc
                if group.broken is not None:
                    raise ServiceUnavailable("the database failed during a grouped commit") from group.broken
                driver_sql(conn, "SAVEPOINT dualcode_member")
                try:
                    yield LoopConnection(conn)
                except BaseException:
                    _rollback_member(conn, group)  # sync: cannot be interrupted
                    raise
                try:
                    driver_sql(conn, "RELEASE dualcode_member")
                except Exception as exc:
                    group.broken = exc
                    raise
        finally:
            group.leave()
        await _await_commit(group.committed)

    async def _lead(self, group: _Group) -> None:
        """The group's transaction: BEGIN once the write lock is free, wait until no member runs and
        none came within the window, close the group, COMMIT (off the loop), answer every member."""
        try:
            async with self._write_lock:
                conn = await self._begin(self._engine, False)
                try:
                    group.ready.set_result(conn)
                    await group.settled(self._group_window_s)
                    group.close(self)
                    if group.broken is None:
                        await self._commit_off_loop(conn)
                    else:
                        conn.rollback()
                except BaseException:
                    with contextlib.suppress(Exception):
                        conn.rollback()
                    raise
                finally:
                    conn.close()
                    self._writers_turn.release()
        except BaseException as exc:  # BEGIN or COMMIT failed: every member hears of it
            group.close(self)
            group.fail(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if group.broken is not None:
            group.fail(group.broken)
            return
        self.groups += 1
        self.grouped_units += group.size
        group.committed.set_result(None)

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
        """A connection in a transaction: a snapshot (read_only), or BEGIN IMMEDIATE after the
        writers' turn (released by the caller once the connection is done, or here if it fails)."""
        if read_only:
            return await self._begin_retrying(engine, True)
        await self._writers_turn.acquire(SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            return await self._begin_retrying(engine, False)
        except BaseException:
            self._writers_turn.release()
            raise

    async def _begin_retrying(self, engine: Engine, read_only: bool) -> Connection:
        deadline: float | None = None
        delay = FIRST_RETRY_S
        while True:
            conn: Connection | None = None
            try:
                # A new connection's PRAGMAs can meet a busy database too.
                conn = self._idle_readers.pop() if read_only and self._idle_readers else engine.connect()
                conn.begin()  # BEGIN or BEGIN IMMEDIATE (the engine's "begin" hook)
                if read_only:
                    driver_sql(conn, _SNAPSHOT)
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


class _Group:
    """Grouped units sharing one transaction (see the module docstring)."""

    __slots__ = ("broken", "closed", "committed", "idle", "ready", "running", "size", "turn")

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[Connection] = loop.create_future()
        self.committed: asyncio.Future[None] = loop.create_future()
        self.turn = asyncio.Lock()  # one member at a time on the connection
        self.idle = asyncio.Event()
        self.running = 0  # members that joined and have not finished their block
        self.size = 0
        self.closed = False
        self.broken: BaseException | None = None

    def join(self) -> None:
        self.size += 1
        self.running += 1
        self.idle.clear()

    def leave(self) -> None:
        self.running -= 1
        if self.running == 0:
            self.idle.set()

    async def settled(self, window_s: float) -> None:
        """Return once no member runs and none joined during the window. No await separates the
        last check from the caller closing the group, so no member can slip in between."""
        while True:
            while self.running:
                await self.idle.wait()
            if window_s > 0:
                await asyncio.sleep(window_s)
            else:
                await asyncio.sleep(0)  # the frames read in this loop pass join too
            if not self.running:
                return

    def close(self, units: SqliteLoopUnits) -> None:
        self.closed = True
        if units._group is self:
            units._group = None

    def fail(self, exc: BaseException) -> None:
        error = exc if isinstance(exc, Exception) else ServiceUnavailable("the group commit was interrupted")
        for future in (self.ready, self.committed):
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: members that left early never await it


def _rollback_member(conn: Connection, group: _Group) -> None:
    try:
        driver_sql(conn, "ROLLBACK TO dualcode_member")
        driver_sql(conn, "RELEASE dualcode_member")
    except Exception as exc:  # SQLite ended the whole transaction (disk full, I/O): nothing is kept
        group.broken = exc


async def _await_commit(committed: asyncio.Future[None]) -> None:
    """Wait for the group's commit; a cancelled member still waits it out (its effects may be
    committed with the group), then gets its cancellation."""
    try:
        await asyncio.shield(committed)
    except asyncio.CancelledError:
        while not committed.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([committed])
        raise
    except Exception as exc:  # one error object for the whole group: each member gets its own
        raise ServiceUnavailable("the group commit failed; nothing of it was kept") from exc


def _database_file(url: str) -> Path | None:
    """The database's file, or None in memory (nothing to share with other processes)."""
    database = make_url(url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_BUSY
