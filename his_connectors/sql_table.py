"""The intermediate table (中间表): rows written into a table of the HIS's own database.

Outbound: one row per event, the event id as the unique ``idempotency_key`` column, so a row sent
twice is stored once (the duplicate insert counts as delivered). Inbound: the HIS appends rows to a
table of its own; ``read_inbound(after=...)`` pages through them by their increasing id, and the
caller keeps the cursor. PostgreSQL, MySQL/MariaDB and SQLite, through SQLAlchemy's async engines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from his_connectors.base import Envelope, Health, Receipt
from his_connectors.webhook import body_of

# BIGINT on the servers, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
_Id = BigInteger().with_variant(Integer(), "sqlite")


def outbound_table(name: str, metadata: MetaData) -> Table:
    return Table(
        name,
        metadata,
        Column("idempotency_key", String(64), primary_key=True),  # unique: one row per event
        Column("topic", String(64), nullable=False),
        Column("hospital", String(64), nullable=False),
        Column("patient_id", String(64), nullable=False),
        Column("occurred_at", String(40), nullable=False),
        Column("document", Text, nullable=False),  # the webhook's JSON document
        Column("written_at", DateTime(timezone=True), nullable=False),
    )


def inbound_table(name: str, metadata: MetaData) -> Table:
    return Table(
        name,
        metadata,
        Column("id", _Id, primary_key=True, autoincrement=True),
        Column("kind", String(64), nullable=False),  # e.g. patient.updated
        Column("document", Text, nullable=False),
        Column("written_at", DateTime(timezone=True), nullable=False),
    )


@dataclass(frozen=True, slots=True)
class InboundRow:
    id: int
    kind: str
    document: dict[str, Any]


class SqlTableConnector:
    def __init__(
        self,
        url: str,
        *,
        table: str = "dualcode_outbound",
        inbound: str | None = None,
        create_tables: bool = False,
        timeout_s: float = 10.0,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._engine = engine or create_async_engine(url, pool_pre_ping=True, pool_size=4)
        self._metadata = MetaData()
        self.table = outbound_table(table, self._metadata)
        self.inbound = None if inbound is None else inbound_table(inbound, self._metadata)
        self._create = create_tables
        self._ready = not create_tables

    async def deliver(self, envelope: Envelope) -> Receipt:
        patient = envelope.resources.get("patient", {})
        row = {
            "idempotency_key": envelope.event_id,
            "topic": envelope.topic,
            "hospital": envelope.hospital,
            "patient_id": str(patient.get("id", envelope.ordering_key.removeprefix("Patient/"))),
            "occurred_at": envelope.occurred_at,
            "document": body_of(envelope).decode(),
            "written_at": datetime.now(UTC),
        }
        try:
            await self._ensure_tables()
            async with self._engine.begin() as connection:
                await connection.execute(insert(self.table).values(**row))
        except IntegrityError:
            return Receipt.ok(envelope.event_id, "row was there already")
        except (SQLAlchemyError, OSError) as error:
            return Receipt.failed(f"HIS database: {type(error).__name__}")
        return Receipt.ok(envelope.event_id, "row written")

    async def read_inbound(self, *, after: int = 0, limit: int = 100) -> list[InboundRow]:
        """Rows the HIS wrote, with id > ``after``, oldest first."""
        if self.inbound is None:
            raise ValueError("no inbound table configured")
        await self._ensure_tables()
        statement = (
            select(self.inbound).where(self.inbound.c.id > after).order_by(self.inbound.c.id).limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [InboundRow(int(r.id), str(r.kind), _document(r.document)) for r in rows]

    async def health(self) -> Health:
        try:
            await self._ensure_tables()
            async with self._engine.connect() as connection:
                await connection.execute(select(self.table.c.idempotency_key).limit(1))
        except (SQLAlchemyError, OSError) as error:
            return Health(False, f"HIS database: {type(error).__name__}")
        return Health(True, f"table {self.table.name} reachable")

    async def close(self) -> None:
        await self._engine.dispose()

    async def _ensure_tables(self) -> None:
        if self._ready:
            return
        async with self._engine.begin() as connection:
            await connection.run_sync(self._metadata.create_all)
        self._ready = True


def _document(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
