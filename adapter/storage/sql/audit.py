"""AuditLog on SQL: searchable columns in clear (ids, codes); source ip and detail encrypted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, bindparam, select
from sqlalchemy.engine import Row

from adapter.errors import DuplicateKey
from adapter.storage.records import AuditRecord
from adapter.storage.shared import utc
from adapter.storage.sql.bulk import driver_value, insert_rows
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.prepared import PreparedWrite
from adapter.storage.sql.schema import audit

A = audit.c
_COLUMNS: Final = (
    "id", "recorded_at", "agent", "action", "operation", "outcome", "patient_id", "resource",
    "request_id", "private",
)  # fmt: skip

_RECORDS: dict[str, PreparedWrite] = {}


def _record_statement(ctx: SqlContext) -> PreparedWrite:
    """INSERT of one record that yields nothing when its id is written already (built once)."""
    statement = _RECORDS.get(ctx.dialect)
    if statement is None:
        statement = PreparedWrite(
            ctx.insert_ignoring(audit, "id")
            .values(
                id=bindparam("id"),
                recorded_at=bindparam("at", type_=A.recorded_at.type),
                agent=bindparam("agent"),
                action=bindparam("action"),
                operation=bindparam("operation"),
                outcome=bindparam("outcome"),
                patient_id=bindparam("pid"),
                resource=bindparam("resource"),
                request_id=bindparam("rid"),
                private=bindparam("private", type_=A.private.type),
            )
            .returning(A.seq)
        )
        _RECORDS[ctx.dialect] = statement
    return statement


class SqlAuditLog:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def record_many(self, records: Sequence[AuditRecord]) -> None:
        """One executemany for the batch (the audit writer's), duplicates ignored."""
        ctx = self._ctx
        rows = [
            (
                r.id,
                driver_value(ctx, A.recorded_at, utc(r.recorded_at)),
                r.agent,
                r.action,
                r.operation,
                r.outcome,
                r.patient_id,
                r.resource,
                r.request_id,
                self._private(r),
            )
            for r in records
        ]
        await insert_rows(ctx, audit, _COLUMNS, rows, ignore_conflict_on="id")

    def _private(self, record: AuditRecord) -> bytes | None:
        if record.source_ip is None and not record.detail:
            return None
        return self._ctx.seal_json(
            {"source_ip": record.source_ip, "detail": record.detail}, f"audit/{record.id}"
        )

    async def record(self, record: AuditRecord) -> None:
        ctx = self._ctx
        private = self._private(record)
        params = {
            "id": record.id,
            "at": utc(record.recorded_at),
            "agent": record.agent,
            "action": record.action,
            "operation": record.operation,
            "outcome": record.outcome,
            "pid": record.patient_id,
            "resource": record.resource,
            "rid": record.request_id,
            "private": private,
        }
        statement = _record_statement(ctx)
        if not await ctx.write(statement, params):
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
