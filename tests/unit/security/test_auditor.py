"""The Auditor writes through the storage port; these tests use the in-memory storage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from adapter.security.audit import Auditor
from adapter.storage.memory import MemoryStorage

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


async def test_record_writes_one_audit_record_in_the_unit_of_work() -> None:
    storage = MemoryStorage()
    auditor = Auditor(clock=lambda: WHEN)
    async with storage.unit_of_work() as uow:
        written = await auditor.record(
            uow, agent="dc-1", action="R", operation="read Patient", outcome="0",
            patient_id="pat-1", resource="Patient/pat-1", source_ip="192.0.2.1", request_id="req-1",
        )  # fmt: skip
    assert uuid.UUID(written.id).version == 4
    assert written.recorded_at == WHEN
    async with storage.unit_of_work() as uow:
        (stored,) = await uow.audit.search(patient_id="pat-1")
    assert stored == written
    AuditEvent.model_validate(auditor.to_fhir(stored))
    await storage.close()


async def test_an_audit_record_rolls_back_with_its_unit_of_work() -> None:
    storage = MemoryStorage()
    auditor = Auditor()
    with pytest.raises(RuntimeError):
        async with storage.unit_of_work() as uow:
            await auditor.record(uow, agent="dc-1", action="R", operation="read Patient", patient_id="p")
            raise RuntimeError("the change failed")
    async with storage.unit_of_work() as uow:
        assert await uow.audit.search(patient_id="p") == []
    await storage.close()


@pytest.mark.parametrize(("action", "outcome"), [("X", "0"), ("RU", "0"), ("R", "1"), ("R", "success")])
async def test_wrong_codes_are_refused(action: str, outcome: str) -> None:
    storage = MemoryStorage()
    async with storage.unit_of_work() as uow:
        with pytest.raises(ValueError):
            await Auditor().record(
                uow, agent="dc-1", action=action, operation="read Patient", outcome=outcome
            )
    await storage.close()
