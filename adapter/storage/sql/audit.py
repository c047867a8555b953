"""AuditLog on SQL: searchable columns in clear (ids, codes); source ip and detail encrypted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Row

from adapter.errors import DuplicateKey
from adapter.storage.records import AuditRecord
from adapter.storage.shared import utc
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.schema import audit

A = audit.c


class SqlAuditLog:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def record(self, record: AuditRecord) -> None:
        ctx = self._ctx
        private = None
        if record.source_ip is not None or record.detail:
            private = ctx.seal_json(
                {"source_ip": record.source_ip, "detail": record.detail}, f"audit/{record.id}"
            )
        statement = (
            ctx.insert_ignoring(audit, "id")
            .values(
                id=record.id,
                recorded_at=utc(record.recorded_at),
                agent=record.agent,
                action=record.action,
                operation=record.operation,
                outcome=record.outcome,
                patient_id=record.patient_id,
                resource=record.resource,
                request_id=record.request_id,
                private=private,
            )
            .returning(A.seq)
        )
        if (await ctx.execute(statement)).first() is None:
            raise DuplicateKey("an audit record with this id exists")

    async def search(
        self, *, patient_id: str | None = None, agent: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        conditions: list[ColumnElement[bool]] = []
        if patient_id is not None:
            conditions.append(A.patient_id == patient_id)
        if agent is not None:
            conditions.append(A.agent == agent)
        statement = select(audit).where(*conditions).order_by(A.seq.desc()).limit(limit)
        return [self._record(row) for row in await self._ctx.execute(statement)]

    def _record(self, row: Row[Any]) -> AuditRecord:
        private: dict[str, Any] = {"source_ip": None, "detail": {}}
        if row.private is not None:
            private = self._ctx.open_json(row.private, f"audit/{row.id}")
        return AuditRecord(
            id=row.id,
            recorded_at=row.recorded_at,
            agent=row.agent,
            action=row.action,
            operation=row.operation,
            outcome=row.outcome,
            patient_id=row.patient_id,
            resource=row.resource,
            source_ip=private["source_ip"],
            request_id=row.request_id,
            detail=dict(private["detail"]),
        )
