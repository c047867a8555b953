"""PatientIndex: the master patient index service. Every call works inside the caller's unit of
work, so the Patient, its identity links, review Tasks, outbox events and audit records commit
together or not at all. Each resolve, merge and unmerge (and number assignment) is audited."""

from __future__ import annotations

from typing import Any

from adapter.mpi.local_numbers import assign_local_number, link_local_number
from adapter.mpi.matching import match_facts
from adapter.mpi.merging import merge_patients, unmerge_patients
from adapter.mpi.resolver import resolve_facts
from adapter.mpi.values import MatchCandidate, MergeResult, Resolution
from adapter.security.audit import Auditor
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import AuditRecord
from mappings.codes import IdentifierSystems, default_identifier_systems
from mappings.person import PersonFacts


class PatientIndex:
    def __init__(self, *, systems: IdentifierSystems | None = None, auditor: Auditor | None = None) -> None:
        self.systems = systems or default_identifier_systems()
        self._auditor = auditor or Auditor()

    async def resolve(
        self,
        uow: UnitOfWork,
        facts: PersonFacts,
        *,
        actor: str,
        deferred_audit: list[AuditRecord] | None = None,
    ) -> Resolution:
        """The one Patient for these facts (created on first sight); see ``resolver``.

        With ``deferred_audit`` the audit record is appended there instead of written in ``uow``: a
        caller trying a read-only unit first (a known person) writes it after that unit succeeds."""
        resolution, changed = await resolve_facts(uow, facts, self.systems)
        record = self.resolve_record(resolution, source=facts.source, actor=actor, changed=changed)
        if deferred_audit is None:
            await uow.audit.record(record)
        else:
            deferred_audit.append(record)
        return resolution

    def resolve_record(
        self, resolution: Resolution, *, source: str, actor: str, changed: bool = False
    ) -> AuditRecord:
        """The audit record of one resolve: also for a caller that found a settled resolution still
        current (``Resolution.settled``, same Patient version) and answers it again unresolved."""
        action = "C" if resolution.created else ("U" if changed or resolution.linked else "R")
        detail = {"source": source, "linked": str(len(resolution.linked))}
        if resolution.flags:
            detail["flags"] = ",".join(f"{f.kind}:{f.review}" for f in resolution.flags)
        return self._auditor.build(
            agent=actor,
            action=action,
            operation="resolve Patient",
            patient_id=resolution.patient_id,
            resource=f"Patient/{resolution.patient_id}/_history/{resolution.version_id}",
            detail=detail,
        )

    async def match(
        self, uow: UnitOfWork, facts: PersonFacts, *, limit: int = 10, actor: str | None = None
    ) -> list[MatchCandidate]:
        """Demographic candidates, best first (audited as a search when an actor is given)."""
        candidates = await match_facts(uow, facts, self.systems, limit=limit)
        if actor is not None:
            await self._auditor.record(
                uow,
                agent=actor,
                action="E",
                operation="match Patient",
                resource="Patient",
                detail={"source": facts.source, "candidates": str(len(candidates))},
            )
        return candidates

    async def assign_local_number(
        self, uow: UnitOfWork, patient_id: str, hospital_code: str, *, actor: str = "system"
    ) -> str:
        """The hospital's own number for this patient, created on the first visit, stable after."""
        number, _ = await self.local_number(uow, patient_id, hospital_code, actor=actor)
        return number

    async def local_number(
        self,
        uow: UnitOfWork,
        patient_id: str,
        hospital_code: str,
        *,
        actor: str = "system",
        surviving: dict[str, Any] | None = None,
    ) -> tuple[str, bool]:
        """(number, created): created means the Patient changed (the number was put on it).
        ``surviving``: the Patient's current body when the caller has it (a resolution's)."""
        number, created = await assign_local_number(
            uow, patient_id, hospital_code, systems=self.systems, surviving=surviving
        )
        if created:
            await self._audit_number(uow, patient_id, hospital_code, actor, "assign")
        return number, created

    async def link_local_number(
        self, uow: UnitOfWork, patient_id: str, hospital_code: str, number: str, *, actor: str = "system"
    ) -> bool:
        """Link a number the HIS assigned itself (ADT PID-3). True when it was new."""
        created = await link_local_number(uow, patient_id, hospital_code, number, systems=self.systems)
        if created:
            await self._audit_number(uow, patient_id, hospital_code, actor, "link")
        return created

    async def merge(
        self, uow: UnitOfWork, source_id: str, target_id: str, *, actor: str, reason: str
    ) -> MergeResult:
        result = await merge_patients(uow, source_id, target_id, actor=actor, reason=reason)
        await self._audit_merge(uow, result, actor, "merge")
        return result

    async def unmerge(self, uow: UnitOfWork, merge_ref: str, *, actor: str, reason: str) -> MergeResult:
        result = await unmerge_patients(uow, merge_ref, actor=actor, reason=reason)
        await self._audit_merge(uow, result, actor, "unmerge")
        return result

    async def _audit_merge(self, uow: UnitOfWork, result: MergeResult, actor: str, what: str) -> None:
        await self._auditor.record(
            uow,
            agent=actor,
            action="U",
            operation=f"{what} Patient",
            patient_id=result.target_id,
            resource=result.provenance,
            detail={"source": f"Patient/{result.source_id}", "links": str(result.moved_links)},
        )

    async def _audit_number(
        self, uow: UnitOfWork, patient_id: str, hospital: str, actor: str, what: str
    ) -> None:
        await self._auditor.record(
            uow,
            agent=actor,
            action="U",
            operation=f"{what} hospital patient number",
            patient_id=patient_id,
            resource=f"Patient/{patient_id}",
            detail={"hospital": hospital},
        )
