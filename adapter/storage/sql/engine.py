"""Creating async engines that behave the same on SQLite and PostgreSQL.

SQLite allows one writer at a time. Python's sqlite3 driver begins transactions lazily (only before
DML), so a unit of work that reads first and writes later can fail with "database is locked" when it
tries to upgrade its lock. We take transaction control from the driver and begin units of work with
BEGIN IMMEDIATE (the write lock up front, waiting up to busy_timeout for other processes); within one
process SqlStorage also serialises them with an asyncio lock, so they queue instead of spinning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY = "dualcode_read_only"  # execution option: a plain deferred BEGIN (health checks)


def make_engine(url: str | URL, *, pool_size: int | None = 10, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``; ``pool_size=None`` when passing a pool class that takes no size."""
    parsed = make_url(url)
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
    if parsed.get_backend_name() == "sqlite":
        _ensure_parent_dir(parsed)
        engine = create_async_engine(parsed, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    return create_async_engine(parsed, **kwargs)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _ensure_parent_dir(url: URL) -> None:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
