"""A scanner that knows a few synthetic people, and a sampling service over the memory store."""

from __future__ import annotations

from datetime import date

from adapter.errors import CardCodeExpired
from adapter.sampling import SamplingService
from adapter.scan import ScanRequest, ScanResult
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.caller import Caller
from adapter.security.scopes import SAMPLING_SCOPE
from adapter.storage import MemoryStorage
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import AuditRecord

SAMPLER = Caller(client_id="point-7", scopes=frozenset({"system/Patient.rs", SAMPLING_SCOPE}))
PHARMACY = Caller(client_id="pharmacy-1", scopes=frozenset({"system/Patient.rs"}))


class FakeScanner:
    """Code ``P<n>`` is synthetic person n (named 测试<n>); ``EXPIRED`` is an expired code."""

    def __init__(self) -> None:
        self.requests: list[ScanRequest] = []

    async def verify(self, request: ScanRequest) -> str:
        self.requests.append(request)
        if request.code == "EXPIRED":
            raise CardCodeExpired()
        return request.code.removeprefix("P")

    async def resolve_verified(
        self, uow: UnitOfWork, verified: str, *, actor: str, deferred_audit: list[AuditRecord] | None = None
    ) -> ScanResult:
        patient = {"resourceType": "Patient", "id": f"pat-{verified}", "name": [{"text": f"测试{verified}"}]}
        # Audited as the real resolve is: in the unit, or handed back for the caller to write in it.
        record = Auditor().build(
            agent=actor, action="R", operation="resolve Patient", patient_id=patient["id"]
        )
        if deferred_audit is None:
            await uow.audit.record(record)
        else:
            deferred_audit.append(record)
        return ScanResult(patient=patient, patient_id=f"pat-{verified}", created=False)


def make_service(storage: MemoryStorage, scanner: FakeScanner, **extra: object) -> SamplingService:
    auditor = Auditor()
    return SamplingService(
        storage=storage,
        scan=scanner,
        auditor=auditor,
        audit_writer=AuditWriter(storage),
        tube_pattern="[A-Za-z0-9]{8,20}",
        today=lambda: date(2026, 11, 29),
        **extra,  # type: ignore[arg-type]
    )
