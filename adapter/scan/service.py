"""Any card or code to one Patient: verify (outside any transaction: platforms are remote), then
resolve, number and cover the person in units of work of our own database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from adapter.cards.context import ScanContext, Step
from adapter.cards.holder import CardHolder, CardKind
from adapter.cards.platforms import CardPlatforms
from adapter.errors import InvalidIdentityDocument, InvalidRequest
from adapter.mpi import PatientIndex
from adapter.mpi.values import Resolution, ReviewFlag
from adapter.scan.coverage import CoverageKeeper
from adapter.scan.holder_facts import facts_from_holder
from adapter.scan.known import DEFAULT_SIZE as KNOWN_SCANS
from adapter.scan.known import KnownScan, KnownScans, scan_key
from adapter.security.audit_writer import AuditWriter
from adapter.storage.ports import ReadOnlyViolation, Storage, UnitOfWork
from adapter.storage.records import AuditRecord
from mappings.codes import IdentifierSystems
from mappings.errors import MappingInputError
from mappings.identity_documents import parse_id_number
from mappings.person import PersonFacts

# Steps that only need to know who the person is: a sampling point bills nobody, so it gets no
# patient number of its own and triggers no insurance lookup (two writes and a remote call saved).
IDENTIFICATION_ONLY = frozenset({"sampling"})


@dataclass(frozen=True)
class ScanRequest:
    code: str = field(repr=False)
    kind: CardKind | None = None
    organization: str | None = None  # the scanning institution: gets its own patient number
    step: Step = "registration"
    name: str | None = field(default=None, repr=False)  # with kind idcard: the name the person gives


@dataclass(frozen=True)
class VerifiedScan:
    """A card its platform vouched for (the remote step, outside any transaction), still to be
    resolved to the Patient (``CardScanService.resolve_verified``, inside the caller's unit)."""

    request: ScanRequest
    holder: CardHolder | None = field(repr=False)  # None: a typed ID number
    facts: PersonFacts = field(repr=False)


# What a resolve settles: the Patient, the scanning institution's number, the current Coverages.
Resolved = tuple[Resolution, dict[str, str] | None, tuple[dict[str, Any], ...]]


@dataclass(frozen=True)
class ScanResult:
    patient: dict[str, Any] = field(repr=False)
    patient_id: str
    created: bool
    coverages: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    local_identifier: dict[str, str] | None = field(default=None, repr=False)
    flags: tuple[ReviewFlag, ...] = ()
    notes: tuple[str, ...] = ()  # for the scanner: e.g. no active insurance


class CardScanService:
    def __init__(
        self,
        *,
        storage: Storage,
        platforms: CardPlatforms,
        index: PatientIndex,
        coverage: CoverageKeeper,
        systems: IdentifierSystems,
        audit_writer: AuditWriter,
        default_organization: str = "",
        today: Callable[[], date] = date.today,
        remembered: int = KNOWN_SCANS,
    ) -> None:
        self._default_organization = default_organization
        self._known = KnownScans(remembered)
        self._audit_writer = audit_writer
        self._storage, self._platforms, self._index = storage, platforms, index
        self._coverage, self._systems, self._today = coverage, systems, today

    async def scan(self, request: ScanRequest, *, actor: str) -> ScanResult:
        verified = await self.verify(request)
        holder, facts = verified.holder, verified.facts
        resolution, local, coverages = await self._resolve(verified, actor)
        notes: list[str] = []
        fresh = holder is not None and bool(holder.insurance)
        wants_coverage = request.step not in IDENTIFICATION_ONLY
        if (
            wants_coverage
            and not fresh
            and facts.id_number
            and await self._coverage.due(resolution.patient_id)
        ):
            answer = await self._coverage.ask_nhsa(resolution.patient_id, facts.id_number)
            if answer is None:
                notes.append("insurance could not be checked now (NHSA did not answer); shown as last known")
            else:
                async with self._storage.unit_of_work() as uow:
                    await self._coverage.store(uow, resolution.patient_id, answer)
                    coverages = tuple(await self._coverage.current(uow, resolution.patient_id))
        if wants_coverage and not any(c.get("status") == "active" for c in coverages):
            notes.append("no active medical insurance: the person pays as self-funded")
        return _result((resolution, local, coverages), tuple(notes))

    async def resolve_verified(
        self,
        uow: UnitOfWork,
        verified: VerifiedScan,
        *,
        actor: str,
        deferred_audit: list[AuditRecord] | None = None,
    ) -> ScanResult:
        """The Patient of a verified card, resolved in the caller's unit of work (which must allow
        writes: a first sight creates the person), so what the caller then writes commits with it.
        Its audit record goes into ``uow``, or onto ``deferred_audit`` for the caller to write in
        the same unit. No insurance lookup (a remote call): for steps that only identify."""
        return _result(await self._resolve_in(uow, verified, actor, deferred_audit))

    async def _resolve(self, verified: VerifiedScan, actor: str) -> Resolved:
        """A known person with nothing new is the common scan: answered from what the last scan of the
        same facts settled when it is still current (``known``), else tried as a read-only unit of
        work (no queue behind writers, audit written in batches); the first write it would need sends
        the scan down the writer path instead, which redoes it from the start."""
        request, holder, facts = verified.request, verified.holder, verified.facts
        if holder is None or not holder.insurance:
            numbered = request.step not in IDENTIFICATION_ONLY
            key = scan_key(
                facts, (request.organization or self._default_organization) if numbered else None, numbered
            )
            known = self._known.get(key)
            if known is not None:
                answer = await self._still_known(known, facts.source, actor)
                if answer is not None:
                    return answer
                self._known.forget(key)
            deferred: list[AuditRecord] = []
            try:
                async with self._storage.unit_of_work(read_only=True) as uow:
                    answer = await self._resolve_in(uow, verified, actor, deferred)
            except ReadOnlyViolation:
                pass
            else:
                for record in deferred:
                    await self._audit_writer.submit(record)
                resolution, local, coverages = answer
                if resolution.settled and (local is not None or not numbered):
                    self._known.put(key, KnownScan.of(resolution, local, coverages if numbered else None))
                return answer
        async with self._storage.unit_of_work() as uow:
            return await self._resolve_in(uow, verified, actor, None)

    async def _still_known(self, known: KnownScan, source: str, actor: str) -> Resolved | None:
        """The remembered answer when the Patient and its Coverage are still at its versions (two
        indexed reads); None when anything changed. Audited as the resolve it stands for."""
        async with self._storage.unit_of_work(read_only=True) as uow:
            if await uow.resources.current_version("Patient", known.patient_id) != known.version_id:
                return None
            if known.coverage_versions is not None:
                if await self._coverage.versions(uow, known.patient_id) != known.coverage_versions:
                    return None
        resolution = known.resolution()
        await self._audit_writer.submit(self._index.resolve_record(resolution, source=source, actor=actor))
        return resolution, known.local_identifier(), known.coverages()

    async def _resolve_in(
        self, uow: UnitOfWork, verified: VerifiedScan, actor: str, deferred: list[AuditRecord] | None
    ) -> Resolved:
        request, holder = verified.request, verified.holder
        resolution = await self._index.resolve(uow, verified.facts, actor=actor, deferred_audit=deferred)
        local = None
        patient_changed = False
        organization = request.organization or self._default_organization
        if organization and request.step not in IDENTIFICATION_ONLY:
            number, patient_changed = await self._index.local_number(
                uow, resolution.patient_id, organization, actor=actor, surviving=resolution.patient
            )
            local = {"system": self._systems.hospital_patient_number(organization), "value": number}
        if holder is not None and holder.insurance:
            await self._coverage.store(uow, resolution.patient_id, holder)
        coverages: tuple[dict[str, Any], ...] = ()
        if request.step not in IDENTIFICATION_ONLY:
            coverages = tuple(await self._coverage.current(uow, resolution.patient_id))
        if patient_changed:  # the number went onto the Patient: answer with that version
            patient = (await uow.resources.read("Patient", resolution.patient_id)).body
            resolution = replace(resolution, patient=patient)
        return resolution, local, coverages

    async def verify(self, request: ScanRequest) -> VerifiedScan:
        """The card checked with its platform (a typed ID number: its check character and date),
        and the person's facts from it; nothing is read or written in our database yet."""
        kind = request.kind or self._platforms.kind_of(request.code)
        if kind == "idcard":
            return VerifiedScan(request, None, self._typed_id_card(request))
        organization = request.organization or self._default_organization
        if not organization:
            # Every platform wants to know who scans; without it they refuse with an opaque error.
            raise InvalidRequest(
                "the scanning institution is unknown: pass parameter organization, register the client "
                "with --organization, or set DUALCODE_CARDS_HOSPITAL_CODE",
                expression=("organization",),
            )
        context = ScanContext(organization=organization, step=request.step)
        holder = await self._platforms.verify(request.code, context, kind=kind)
        return VerifiedScan(request, holder, facts_from_holder(holder, self._systems))

    def _typed_id_card(self, request: ScanRequest) -> PersonFacts:
        # A typed ID number names a person only together with a name; the check char and the date
        # are verified here, the name against the index (a mismatch is flagged, never merged).
        if not request.name or not request.name.strip():
            raise InvalidRequest(
                "an ID number needs the holder's name (parameter name)", expression=("name",)
            )
        try:
            parsed = parse_id_number(request.code, today=self._today())
        except MappingInputError as error:
            raise InvalidIdentityDocument(str(error), expression=("code",)) from None
        return PersonFacts(
            source="idcard",
            id_number=parsed.number,
            name=request.name.strip(),
            sex=parsed.sex,
            birth_date=parsed.birth_date,
        )


def _result(resolved: Resolved, notes: tuple[str, ...] = ()) -> ScanResult:
    resolution, local, coverages = resolved
    return ScanResult(
        patient=resolution.patient,
        patient_id=resolution.patient_id,
        created=resolution.created,
        coverages=coverages,
        local_identifier=local,
        flags=resolution.flags,
        notes=notes,
    )
