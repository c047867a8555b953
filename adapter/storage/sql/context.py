"""What the SQL stores of one unit of work share: the connection, the vault, the clock.

Every statement goes through ``execute`` so database errors map to the one error vocabulary in one
place: a broken uniqueness rule is DuplicateKey, an unreachable or locked database is
ServiceUnavailable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

from adapter.errors import DuplicateKey, ServiceUnavailable
from adapter.json_codec import dump_json, load_json
from adapter.storage.ports import ReadOnlyViolation
from adapter.storage.shared import UtcClock
from adapter.storage.sql.asyncpg_direct import AsyncpgDirect
from adapter.storage.sql.prepared import PreparedRead, PreparedWrite
from adapter.storage.vault import Vault

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]
T = TypeVar("T")


class SqlConnection(Protocol):
    """An AsyncConnection (PostgreSQL) or SQLite's LoopConnection (``sqlite_loop``)."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Executable, parameters: Params | None = None) -> CursorResult[Any]: ...

    async def exec_driver_sql(
        self, statement: str, parameters: list[tuple[Any, ...]]
    ) -> CursorResult[Any]: ...


_NOT_LOOKED_UP: Any = object()


class SqlContext:
    __slots__ = (
        "_active",
        "_ahead",
        "_conn",
        "_direct",
        "_read_only",
        "_writes",
        "clock",
        "dialect",
        "vault",
    )

    def __init__(
        self, conn: SqlConnection, *, vault: Vault, clock: UtcClock, read_only: bool = False
    ) -> None:
        self._conn = conn
        self._read_only = read_only
        self.vault = vault
        self.clock = clock
        self.dialect = conn.dialect.name
        self._active = True
        self._direct: AsyncpgDirect | None = _NOT_LOOKED_UP
        self._writes = 0  # statements run that may have written (the read-ahead is good until the next)
        self._ahead: dict[tuple[str, str], tuple[int, Any]] | None = None

    def read_ahead(self, resource_type: str, resource_id: str, row: Any) -> None:
        """A resource's current row that a statement of this unit read along (``identities``
        ``find_many(read_ahead=True)``), for the unit's next ``read`` of it: used once, and only if
        nothing that may write ran in between."""
        if self._ahead is None:
            self._ahead = {}
        self._ahead[(resource_type, resource_id)] = (self._writes, row)

    def take_read_ahead(self, resource_type: str, resource_id: str) -> Any | None:
        if not self._ahead:
            return None
        entry = self._ahead.pop((resource_type, resource_id), None)
        if entry is None or entry[0] != self._writes:
            return None
        return entry[1]

    async def _asyncpg(self) -> AsyncpgDirect | None:
        """asyncpg under this unit, for prepared statements (``asyncpg_direct``); None elsewhere."""
        if self._direct is _NOT_LOOKED_UP:
            conn = self._conn
            self._direct = await AsyncpgDirect.of(conn) if isinstance(conn, AsyncConnection) else None
        return self._direct

    def _check_writable(self) -> None:
        """Before every statement that may write (and so ends any read-ahead)."""
        if not self._active:
            raise RuntimeError("the unit of work has ended; open a new one")
        if self._read_only:
            raise ReadOnlyViolation("this unit of work is read-only")
        self._writes += 1

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def end(self) -> None:
        self._active = False

    async def execute(
        self,
        statement: Executable,
        params: Params | None = None,
    ) -> CursorResult[Any]:
        if not self._active:
            raise RuntimeError("the unit of work has ended; open a new one")
        if self._read_only and getattr(statement, "is_dml", False):
            raise ReadOnlyViolation("this unit of work is read-only")
        if not getattr(statement, "is_select", False):
            self._writes += 1
        return await self._mapped(self._conn.execute(statement, params))

    async def fetch(self, read: PreparedRead, params: Mapping[str, Any]) -> list[Any]:
        """The rows of a prepared read (``prepared``): the stdlib driver directly on SQLite, asyncpg
        directly on PostgreSQL (``asyncpg_direct``), an ordinary execute elsewhere; rows answer the
        same attribute names either way."""
        if not self._active:
            raise RuntimeError("the unit of work has ended; open a new one")
        fetch_driver = getattr(self._conn, "fetch_driver", None)
        if fetch_driver is None:
            direct = await self._asyncpg()
            if direct is None:
                return list(await self.execute(read.statement, params))
            compiled = read.compiled(self._conn.dialect)
            return compiled.rows(await self._mapped(direct.fetch(compiled.sql, compiled.arguments(params))))
        compiled = read.compiled(self._conn.dialect)
        try:
            raw = fetch_driver(compiled.sql, compiled.arguments(params))
        except sqlite3.OperationalError as exc:  # locked, I/O: as map_db_error does for SQLAlchemy's
            raise ServiceUnavailable("the database is unavailable or busy; retry later") from exc
        return compiled.rows(raw)

    async def write(self, statement: PreparedWrite, params: Mapping[str, Any]) -> list[Any]:
        """A prepared write (``prepared``) and the rows it returns (RETURNING; none without): the
        stdlib driver directly on SQLite, asyncpg directly on PostgreSQL, an ordinary execute
        elsewhere. Errors map as ``execute``'s."""
        self._check_writable()
        write_driver = getattr(self._conn, "write_driver", None)
        if write_driver is None:
            direct = await self._asyncpg()
            if direct is None:
                result = await self.execute(statement.statement, params)
                return list(result.all()) if result.returns_rows else []
            compiled = statement.compiled(self._conn.dialect)
            return compiled.rows(await self._mapped(direct.fetch(compiled.sql, compiled.arguments(params))))
        compiled = statement.compiled(self._conn.dialect)
        try:
            raw = write_driver(compiled.sql, compiled.arguments(params))
        except sqlite3.Error as exc:
            raise map_driver_error(exc) from exc
        return compiled.rows(raw)

    async def execute_driver(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """executemany of SQL already compiled for this dialect, with rows already in driver form:
        no per-row parameter processing (bulk writes; see ``bulk.insert_rows``). Returns the rows
        the driver reports written, -1 when it does not know (asyncpg)."""
        self._check_writable()
        write_many = getattr(self._conn, "write_many_driver", None)
        if write_many is not None:  # SQLite: the stdlib driver itself (SQLAlchemy's wrapping costs more)
            try:
                return int(write_many(sql, list(rows)))
            except sqlite3.Error as exc:
                raise map_driver_error(exc) from exc
        direct = await self._asyncpg()
        if direct is not None:
            await self._mapped(direct.execute_many(sql, rows))
            return -1
        result = await self._mapped(self._conn.exec_driver_sql(sql, list(rows)))
        return -1 if result.rowcount is None else int(result.rowcount)

    @staticmethod
    async def _mapped(statement: Awaitable[T]) -> T:
        """Await a statement, its database errors raised as this project's (``map_db_error``)."""
        try:
            return await statement
        except Exception as exc:
            mapped = map_db_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    async def driver_connection(self) -> Any:
        """The driver's own connection under this unit of work (asyncpg's, for COPY), inside its
        transaction; None when the connection does not expose one."""
        self._check_writable()
        get_raw = getattr(self._conn, "get_raw_connection", None)
        if get_raw is None:
            return None
        raw = await get_raw()
        return getattr(raw, "driver_connection", None)

    @property
    def sa_dialect(self) -> Dialect:
        return self._conn.dialect

    def insert_ignoring(self, table: Table, *conflict_columns: str) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING: a clash yields no row instead of an error, so the
        transaction stays usable (PostgreSQL aborts a transaction after a failed statement), and on
        PostgreSQL the insert waits for a concurrent writer of the same key to finish first."""
        if self.is_postgres:
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))

    def seal(self, plaintext: bytes, aad: str) -> bytes:
        return self.vault.encrypt(plaintext, aad=aad.encode("utf-8"))

    def open(self, blob: bytes, aad: str) -> bytes:
        return self.vault.decrypt(blob, aad=aad.encode("utf-8"))

    def seal_text(self, value: str | None, aad: str) -> bytes | None:
        return None if value is None else self.seal(value.encode("utf-8"), aad)

    def open_text(self, blob: bytes | None, aad: str) -> str | None:
        return None if blob is None else self.open(blob, aad).decode("utf-8")

    def seal_json(self, value: Any, aad: str) -> bytes:
        return self.seal(dump_json(value), aad)

    def open_json(self, blob: bytes, aad: str) -> Any:
        return load_json(self.open(blob, aad))


def map_driver_error(exc: sqlite3.Error) -> Exception:
    """What ``map_db_error`` makes of the same error raised by the stdlib driver itself."""
    if isinstance(exc, sqlite3.IntegrityError):
        return DuplicateKey()
    if isinstance(exc, sqlite3.OperationalError):  # locked, busy, I/O, disk full
        return ServiceUnavailable("the database is unavailable or busy; retry later")
    return exc


def map_db_error(exc: BaseException, *, connecting: bool = False) -> BaseException:
    """The error to raise instead of a database error (the original is kept as the cause); any other
    exception is returned unchanged. Socket errors count only while connecting: later ones would
    come from the caller's own code inside the unit of work."""
    if isinstance(exc, IntegrityError):
        return DuplicateKey()
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return ServiceUnavailable("the database is unavailable or busy; retry later")
    if connecting and isinstance(exc, OSError | TimeoutError | DBAPIError):
        return ServiceUnavailable("the database does not answer")
    return exc
