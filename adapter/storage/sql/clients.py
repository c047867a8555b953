"""ClientStore on SQL (secrets are stored only as the hash the caller computed)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row

from adapter.errors import DuplicateKey
from adapter.storage.records import ClientRecord
from adapter.storage.shared import utc
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.schema import clients

C = clients.c


class SqlClientStore:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def add(self, client: ClientRecord) -> None:
        statement = (
            self._ctx.insert_ignoring(clients, "client_id")
            .values(
                client_id=client.client_id,
                name=client.name,
                roles=list(client.roles),
                secret_hash=client.secret_hash,
                created_at=utc(client.created_at),
                organization=client.organization,
                active=client.active,
            )
            .returning(C.client_id)
        )
        if (await self._ctx.execute(statement)).first() is None:
            raise DuplicateKey("a client with this id exists")

    async def get(self, client_id: str) -> ClientRecord | None:
        row = (await self._ctx.execute(select(clients).where(C.client_id == client_id))).first()
        return None if row is None else _client(row)

    async def list(self) -> builtins.list[ClientRecord]:
        # Byte order everywhere, as in memory (a PostgreSQL locale collation would differ).
        order = C.client_id.collate("C") if self._ctx.is_postgres else C.client_id
        rows = await self._ctx.execute(select(clients).order_by(order))
        return [_client(row) for row in rows]


def _client(row: Row[Any]) -> ClientRecord:
    return ClientRecord(
        client_id=row.client_id,
        name=row.name,
        roles=tuple(row.roles),
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        organization=row.organization,
        active=row.active,
    )
