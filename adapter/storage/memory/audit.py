"""AuditLog in memory: append-only, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from adapter.errors import DuplicateKey
from adapter.storage.memory.state import Tx
from adapter.storage.records import AuditRecord
from adapter.storage.shared import utc


class MemoryAuditLog:
    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    async def record(self, record: AuditRecord) -> None:
        state = self._tx.check()
        if record.id in state.audit_ids:
            raise DuplicateKey("an audit record with this id exists")
        stored = replace(record, recorded_at=utc(record.recorded_at), detail=dict(record.detail))
        self._tx.journal.add(state.audit_ids, record.id)
        self._tx.journal.append(state.audit, stored)

    async def record_many(self, records: Sequence[AuditRecord]) -> None:
        state = self._tx.check()
        for record in records:
            if record.id not in state.audit_ids:
                await self.record(record)

    async def search(
        self, *, patient_id: str | None = None, agent: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        found: list[AuditRecord] = []
        for record in reversed(self._tx.check().audit):
            if len(found) >= limit:
                break
            if (patient_id is None or record.patient_id == patient_id) and (
                agent is None or record.agent == agent
            ):
                found.append(replace(record, detail=dict(record.detail)))
        return found
