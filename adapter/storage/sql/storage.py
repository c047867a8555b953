"""SqlStorage: the Storage port on SQLAlchemy Core, the same stores on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapter.errors import ServiceUnavailable
from adapter.storage.ports import (
    AuditLog,
    ClientStore,
    FhirRepository,
    IdentityStore,
    MessageStore,
    OutboxStore,
    SamplingStore,
    UnitOfWork,
)
from adapter.storage.shared import UtcClock, notify_outbox_listeners
from adapter.storage.sql.audit import SqlAuditLog
from adapter.storage.sql.clients import SqlClientStore
from adapter.storage.sql.context import SqlConnection, SqlContext, map_db_error
from adapter.storage.sql.engine import READ_ONLY, is_sqlite, make_engine
from adapter.storage.sql.identities import SqlIdentityStore
from adapter.storage.sql.messages import SqlMessageStore
from adapter.storage.sql.outbox import SqlOutboxStore
from adapter.storage.sql.resources import SqlFhirRepository
from adapter.storage.sql.sampling import SqlSamplingStore
from adapter.storage.sql.sqlite_loop import SqliteLoopUnits
from adapter.storage.vault import Vault

PING_TIMEOUT_S = 5.0


class SqlUnitOfWork:
    """Each store is typed as its port, so mypy checks the implementations against the Protocols."""

    __slots__ = ("audit", "clients", "identities", "messages", "outbox", "resources", "sampling")

    def __init__(self, ctx: SqlContext) -> None:
        self.resources: FhirRepository = SqlFhirRepository(ctx)
        self.identities: IdentityStore = SqlIdentityStore(ctx)
        self.messages: MessageStore = SqlMessageStore(ctx)
        self.outbox: OutboxStore = SqlOutboxStore(ctx)
        self.audit: AuditLog = SqlAuditLog(ctx)
        self.clients: ClientStore = SqlClientStore(ctx)
        self.sampling: SamplingStore = SqlSamplingStore(ctx)


class SqlStorage:
    """The schema must be migrated first (``adapter.storage.migrate``).

    On SQLite (any driver in the URL) statements run on the event-loop thread with the stdlib
    driver (``sqlite_loop``); on PostgreSQL through the async engine (asyncpg)."""

    def __init__(self, url: str, vault: Vault, *, pool_size: int = 10) -> None:
        self._url = url
        self._pool_size = pool_size
        self._vault = vault
        self._clock = UtcClock()
        self._engine: AsyncEngine | None = None
        self._outbox_listeners: list[Callable[[], None]] = []
        self._units: _Units
        if is_sqlite(url):
            self._units = SqliteLoopUnits(url, readers=pool_size)
        else:
            self._engine = make_engine(url, pool_size=pool_size)
            self._units = _AsyncUnits(self._engine)

    @property
    def engine(self) -> AsyncEngine:
        """An async engine on this database, for tools (bulk loads, checks). On SQLite it is made on
        first use and units of work do not go through it."""
        if self._engine is None:
            self._engine = make_engine(self._url, pool_size=self._pool_size)
        return self._engine

    @asynccontextmanager
    async def unit_of_work(
        self, *, read_only: bool = False, grouped: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        try:
            async with self._units.transaction(read_only=read_only, grouped=grouped) as conn:
                ctx = SqlContext(conn, vault=self._vault, clock=self._clock, read_only=read_only)
                try:
                    uow = SqlUnitOfWork(ctx)
                    yield uow
                finally:
                    ctx.end()
        except Exception as exc:
            mapped = map_db_error(exc)  # e.g. the commit itself failed
            if mapped is exc:
                raise
            raise mapped from exc
        if getattr(uow.outbox, "written", 0) and self._outbox_listeners:
            notify_outbox_listeners(self._outbox_listeners)  # committed: nothing of it can roll back now

    def add_outbox_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (synchronous, quick) after each unit of work that added outbox events
        has committed: the outbox wake-up (``adapter.outbox.wakeup``). Never called on a rollback."""
        self._outbox_listeners.append(listener)

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                await self._units.ping()
        except Exception as exc:
            raise ServiceUnavailable("the database does not answer") from exc

    async def close(self) -> None:
        await self._units.close()
        if self._engine is not None:
            await self._engine.dispose()


class _Units(Protocol):
    """Where a SqlStorage gets its transactions from."""

    def transaction(
        self, *, read_only: bool, grouped: bool = False
    ) -> AbstractAsyncContextManager[SqlConnection]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class _AsyncUnits:
    """Transactions on an async engine (PostgreSQL): each unit of work checks out a connection.
    Grouped units are plain units here: PostgreSQL runs them as parallel transactions, and its own
    WAL flush already takes the commits that arrive together in one fsync."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def transaction(self, *, read_only: bool, grouped: bool = False) -> AsyncIterator[SqlConnection]:
        try:
            conn = await self._engine.connect()
            if read_only:
                await conn.execution_options(**{READ_ONLY: True})
        except Exception as exc:
            mapped = map_db_error(exc, connecting=True)
            if mapped is exc:
                raise
            raise mapped from exc
        try:
            async with conn.begin():
                yield conn
        finally:
            await conn.close()

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY: True})
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        pass  # SqlStorage disposes the engine
