"""SqlStorage: the Storage port on SQLAlchemy Core (async), unchanged on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

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
    UnitOfWork,
)
from adapter.storage.shared import UtcClock
from adapter.storage.sql.audit import SqlAuditLog
from adapter.storage.sql.clients import SqlClientStore
from adapter.storage.sql.context import SqlContext, map_db_error
from adapter.storage.sql.engine import READ_ONLY, is_sqlite, make_engine
from adapter.storage.sql.identities import SqlIdentityStore
from adapter.storage.sql.messages import SqlMessageStore
from adapter.storage.sql.outbox import SqlOutboxStore
from adapter.storage.sql.resources import SqlFhirRepository
from adapter.storage.vault import Vault

PING_TIMEOUT_S = 5.0


class SqlUnitOfWork:
    """Each store is typed as its port, so mypy checks the implementations against the Protocols."""

    __slots__ = ("audit", "clients", "identities", "messages", "outbox", "resources")

    def __init__(self, ctx: SqlContext) -> None:
        self.resources: FhirRepository = SqlFhirRepository(ctx)
        self.identities: IdentityStore = SqlIdentityStore(ctx)
        self.messages: MessageStore = SqlMessageStore(ctx)
        self.outbox: OutboxStore = SqlOutboxStore(ctx)
        self.audit: AuditLog = SqlAuditLog(ctx)
        self.clients: ClientStore = SqlClientStore(ctx)


class SqlStorage:
    """The schema must be migrated first (``adapter.storage.migrate``)."""

    def __init__(self, url: str, vault: Vault, *, pool_size: int = 10) -> None:
        self._engine = make_engine(url, pool_size=pool_size)
        self._vault = vault
        self._clock = UtcClock()
        # SQLite has one writer: queue this process's units of work instead of contending for it.
        self._write_lock = asyncio.Lock() if is_sqlite(url) else None

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False) -> AsyncIterator[UnitOfWork]:
        # Only writers queue behind the SQLite write lock; readers use WAL snapshots concurrently.
        lock = None if read_only else self._write_lock
        serialised: AbstractAsyncContextManager[object] = lock or nullcontext()
        async with serialised:
            try:
                conn = await self._engine.connect()
                if read_only:
                    await conn.execution_options(**{READ_ONLY: True})
            except Exception as exc:
                mapped = map_db_error(exc, connecting=True)
                if mapped is exc:
                    raise
                raise mapped from exc
            ctx = SqlContext(conn, vault=self._vault, clock=self._clock, read_only=read_only)
            try:
                async with conn.begin():
                    yield SqlUnitOfWork(ctx)
            except Exception as exc:
                mapped = map_db_error(exc)  # e.g. the commit itself failed
                if mapped is exc:
                    raise
                raise mapped from exc
            finally:
                ctx.end()
                await conn.close()

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                async with self._engine.connect() as conn:
                    await conn.execution_options(**{READ_ONLY: True})
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable("the database does not answer") from exc

    async def close(self) -> None:
        await self._engine.dispose()
