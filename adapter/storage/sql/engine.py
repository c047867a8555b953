"""Creating engines that behave the same on SQLite and PostgreSQL.

SQLite allows one writer at a time. Python's sqlite3 driver begins transactions lazily (only before
DML), so a unit of work that reads first and writes later can fail with "database is locked" when it
tries to upgrade its lock. We take transaction control from the driver and begin units of work with
BEGIN IMMEDIATE (the write lock up front); within one process SqlStorage also serialises them with an
asyncio lock, so they queue instead of spinning.

Two kinds of SQLite engine share those hooks: the async one (aiosqlite, a worker thread per
connection) for migrations and tools, and the sync one (stdlib sqlite3) that SqlStorage's units of
work use on the event-loop thread (see sqlite_loop.py). The async one may wait in the driver for
another process's write lock (busy_timeout, on its worker thread); the sync one must never block the
loop, so it does not wait in the driver (busy_timeout=0) and retries with asyncio sleeps instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY = "dualcode_read_only"  # execution option: a plain deferred BEGIN (health checks)


def make_engine(url: str | URL, *, pool_size: int | None = 10, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; ``pool_size=None`` when passing a pool class that takes no size.
    Any SQLite URL (``sqlite://``, ``sqlite+aiosqlite://``) gets the aiosqlite driver."""
    parsed = make_url(url)
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
    if is_sqlite(parsed):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        _ensure_parent_dir(parsed)
        engine = create_async_engine(parsed, **kwargs)
        _install_sqlite_hooks(engine.sync_engine, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
        return engine
    return create_async_engine(parsed, **kwargs)


def make_sqlite_loop_engine(url: str | URL, *, connections: int) -> Engine:
    """A sync engine (stdlib sqlite3) for use on the event-loop thread only. The caller bounds how many
    connections are checked out at once to ``connections``, so the pool never blocks the loop."""
    parsed = make_url(url).set(drivername="sqlite+pysqlite")
    _ensure_parent_dir(parsed)
    engine = create_engine(
        parsed,
        poolclass=QueuePool,
        pool_size=connections,
        max_overflow=0,
        pool_timeout=0.001,  # the caller's bound makes waiting impossible; fail fast if it is broken
        # Created and used on the loop thread; disposal may happen elsewhere (garbage collection).
        # timeout=0: the driver never waits for a lock (its default is 5 s); the caller retries.
        connect_args={"check_same_thread": False, "timeout": 0},
    )
    _install_sqlite_hooks(engine, busy_timeout_ms=0)
    return engine


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _ensure_parent_dir(url: URL) -> None:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: Engine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        if isinstance(connection.connection.driver_connection, sqlite3.Connection):
            driver_sql(connection, statement)  # the loop engine: every unit of work begins here
        else:
            connection.exec_driver_sql(statement)  # aiosqlite: only its own adapter may call it


def driver_sql(conn: Connection, sql: str) -> None:
    """A statement by the stdlib driver itself, bypassing SQLAlchemy's execution (which costs about
    ten times a BEGIN or SAVEPOINT); its errors as SQLAlchemy would raise them (busy: OperationalError).
    Only for statements SQLAlchemy need not know of: transaction control and result-less reads."""
    try:
        conn.connection.driver_connection.execute(sql).close()  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc
