"""Hot statements on PostgreSQL through asyncpg itself, inside the unit of work's transaction.

SQLAlchemy's async execution costs about 130 µs of CPU per statement here (greenlet hand-off,
execution context, result wrapping), asyncpg's own ``fetch`` of the same prepared statement about
38 µs (tests/bench: a three-key identity lookup, 2,000 times, ``time.process_time``). A sampling
registration or an HL7 message makes a dozen such statements. So the prepared reads and writes of
``prepared`` (SQL compiled once for the asyncpg dialect, ``$n`` placeholders) and the bulk inserts
run here, the rest through SQLAlchemy as before.

The statements must be in the unit's transaction. SQLAlchemy's asyncpg adapter begins it lazily, at
the first statement its cursor runs, under the connection's execute lock; this does exactly the
same (``_start_transaction`` under ``_execute_mutex``), so whichever runs first begins it, and
SQLAlchemy's COMMIT or ROLLBACK ends it. Those are private names of SQLAlchemy's adapter: ``of``
checks they are there and returns None otherwise (every statement then goes through SQLAlchemy,
as before), and the PostgreSQL contract suite runs every store through this path. Errors are
raised as SQLAlchemy raises them (``DBAPIError`` subclasses), so ``context.map_db_error`` maps them
the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

_ADAPTER_NEEDS = ("_execute_mutex", "_transaction", "_start_transaction", "_connection", "_handle_exception")


class AsyncpgDirect:
    """asyncpg's connection under one unit of work, for statements already compiled for it."""

    __slots__ = ("_adapted", "_dialect")

    def __init__(self, adapted: Any, dialect: Any) -> None:
        self._adapted = adapted
        self._dialect = dialect

    @classmethod
    async def of(cls, conn: AsyncConnection) -> AsyncpgDirect | None:
        if conn.dialect.driver != "asyncpg":
            return None
        adapted = (await conn.get_raw_connection()).dbapi_connection
        if not all(hasattr(adapted, name) for name in _ADAPTER_NEEDS):
            return None
        return cls(adapted, conn.dialect)

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> list[Any]:
        """The rows (asyncpg Records: indexable like tuples)."""
        rows: list[Any] = await self._run(sql, arguments, lambda conn: conn.fetch(sql, *arguments))
        return rows

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._run(sql, rows, lambda conn: conn.executemany(sql, rows))

    async def _run(self, sql: str, arguments: Any, statement: Callable[[Any], Awaitable[Any]]) -> Any:
        """``statement`` on asyncpg's connection, in the unit's transaction (begun here when it is
        the unit's first statement)."""
        adapted = self._adapted
        async with adapted._execute_mutex:
            try:
                if adapted._transaction is None:
                    await adapted._start_transaction()
                return await statement(adapted._connection)
            except Exception as error:
                self._raise(error, sql, arguments)

    def _raise(self, error: Exception, sql: str, arguments: Any) -> NoReturn:
        """As SQLAlchemy would: the adapter turns asyncpg's error into its DB-API one, which is then
        wrapped in the matching DBAPIError (IntegrityError, OperationalError …)."""
        dbapi_error = self._dialect.loaded_dbapi.Error
        try:
            self._adapted._handle_exception(error)
        except dbapi_error as translated:
            disconnected = self._dialect.is_disconnect(translated, self._adapted, None)
            raise DBAPIError.instance(
                sql,
                arguments,
                translated,
                dbapi_error,
                hide_parameters=True,  # the arguments carry identifiers and sealed personal data
                connection_invalidated=disconnected,
            ) from error
        raise error  # pragma: no cover - _handle_exception always raises
