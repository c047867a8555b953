"""Registering people into pooled tubes: verify the card with its platform, then identify and bind
in one unit of work.

The platform call (remote, slow) happens outside any transaction. The person is then resolved
through the card scan path (``Scanner.resolve_verified``: the same resolve as ``$resolve-card``)
inside the unit that binds them, so identification and registration commit together, on one
connection, with their audit records in the same insert. Binding is a few statements
(``SamplingStore.place``: count the person into the tube, store the registration; the store's
uniqueness rules settle races), so concurrent scans into one tube never share a position and a
person never gets two positions in one tube. With ``group_binds`` (SQLite), scans that arrive while
a bind is committing are bound together next, in one unit of work (one transaction, one COMMIT, one
audit insert: ``storage.commit_groups.GroupQueue``), each answered only once committed; without it
(PostgreSQL, where units run side by side) each scan binds in a unit of its own. An offline batch
binds many lines per unit (``bind_many``), in their order. Either way a refusal answers only its
own scan, and a unit that fails as a whole is redone scan by scan.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from adapter.errors import (
    DualcodeError,
    InsufficientScope,
    PoolSizeMismatch,
    TubeAtAnotherPoint,
    TubeClosed,
    TubeFull,
    TubeNotFound,
)
from adapter.sampling.lab import oml_messages, tube_bundle
from adapter.sampling.memo import TubeMemo
from adapter.sampling.values import OTHER_TUBE, Registered, RegistrationRequest, masked_name
from adapter.scan import ScanRequest, ScanResult
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.caller import Caller
from adapter.security.scopes import ADMIN_SCOPE, SAMPLING_SCOPE
from adapter.storage.commit_groups import GroupQueue
from adapter.storage.ports import Storage, UnitOfWork
from adapter.storage.records import AuditRecord, SamplingRegistration, SamplingTube

# What a tube answers a scan it cannot take: raised before anything is written for that scan, so
# the unit of work it runs in stays good for the other scans of a batch.
REFUSALS = (TubeClosed, TubeFull, PoolSizeMismatch, TubeAtAnotherPoint)


class Scanner(Protocol):
    """What identifies a person: adapter.scan.CardScanService, the path $resolve-card takes. What
    ``verify`` returns is only handed back to ``resolve_verified``."""

    async def verify(self, request: ScanRequest) -> Any: ...

    async def resolve_verified(
        self, uow: UnitOfWork, verified: Any, *, actor: str, deferred_audit: list[AuditRecord] | None = None
    ) -> ScanResult: ...


@dataclass(frozen=True)
class Identified:
    patient_id: str
    name_masked: str


# Who a bind is for: a person already Identified, or a card ``Scanner.verify`` vouched for, resolved
# in the bind's own unit of work.
Who = Any
BindJob = tuple[RegistrationRequest, Who, Caller]


def require_sampling(caller: Caller) -> None:
    if SAMPLING_SCOPE not in caller.scopes and ADMIN_SCOPE not in caller.scopes:
        raise InsufficientScope(f"needs {SAMPLING_SCOPE}")


def check_tube_accepts(tube: SamplingTube, request: RegistrationRequest, *, room: bool = True) -> None:
    """Why a registration cannot go into this tube (raised), checked under the tube's lock; without
    ``room`` a full tube passes (a member scanned again gets their registration back)."""
    if tube.status == "closed":
        raise TubeClosed(f"tube {tube.barcode} is closed; scan a new tube")
    if tube.pool_size != request.pool_size:
        raise PoolSizeMismatch(
            f"tube {tube.barcode} holds {tube.pool_size} people; it cannot become {request.pool_size}",
            expression=("pool_size",),
        )
    if tube.point != request.point:
        raise TubeAtAnotherPoint(f"tube {tube.barcode} was opened at another sampling point")
    if room and tube.filled >= tube.pool_size:
        raise TubeFull(f"tube {tube.barcode} is full ({tube.pool_size}/{tube.pool_size}); scan a new tube")


class SamplingService:
    def __init__(
        self,
        *,
        storage: Storage,
        scan: Scanner,
        auditor: Auditor,
        audit_writer: AuditWriter,
        tube_pattern: str,
        round_name: str | None = None,
        today: Callable[[], date] = date.today,
        precheck_ttl_s: float = 1.0,
        group_binds: bool = True,
    ) -> None:
        self._storage, self._scan = storage, scan
        self._auditor, self._audit_writer = auditor, audit_writer
        self.tube_pattern = re.compile(tube_pattern)
        self._round_name, self._today = round_name, today
        self._seen = TubeMemo(ttl_s=precheck_ttl_s)
        self._binds: GroupQueue[BindJob, Registered] | None = None
        if group_binds:
            self._binds = GroupQueue(self._bind_group)

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def auditor(self) -> Auditor:
        return self._auditor

    @property
    def audit_writer(self) -> AuditWriter:
        return self._audit_writer

    def current_round(self) -> str:
        return self._round_name or self._today().isoformat()

    async def register(self, request: RegistrationRequest, caller: Caller) -> Registered:
        require_sampling(caller)
        await self.precheck(request)  # before the scan: a dynamic code is single-use
        return await self.bind(request, await self.verify(request), caller)

    async def precheck(self, request: RegistrationRequest) -> None:
        tube = self._seen.get(request.tube)
        if tube is None:
            async with self._storage.unit_of_work(read_only=True) as uow:
                tube = await uow.sampling.get_tube(request.tube)
            if tube is not None:
                self._seen.put(tube)
        if tube is not None:
            check_tube_accepts(tube, request, room=False)

    async def verify(self, request: RegistrationRequest) -> Who:
        """The scanned card checked with its platform (the remote step); resolved when bound."""
        scan = ScanRequest(
            code=request.code,
            kind=request.kind,
            organization=request.point,
            step="sampling",
            name=request.name,
        )
        return await self._scan.verify(scan)

    async def bind(self, request: RegistrationRequest, who: Who, caller: Caller) -> Registered:
        """Identify (unless ``who`` is Identified already) and bind one person: with the scans that
        arrive meanwhile, in one unit of work (``storage.commit_groups.GroupQueue``), or without
        ``group_binds`` in a unit of its own; answered once that unit is committed."""
        if self._binds is None:
            return await self._bind_alone(request, who, caller)
        return await self._binds.submit((request, who, caller))

    async def bind_many(
        self, items: Sequence[tuple[RegistrationRequest, Who]], caller: Caller
    ) -> list[Registered | DualcodeError]:
        """Bind in the given order, all in one unit of work; a refused item is answered with its
        error and the others still land. Should the unit fail as a whole, each item is bound again
        in a unit of its own, so one bad item never takes the others down with it."""
        answers: list[Registered | DualcodeError] = []
        for answer in await self._bind_group([(request, who, caller) for request, who in items]):
            if not isinstance(answer, Registered | DualcodeError):
                raise answer
            answers.append(answer)
        return answers

    async def _bind_group(self, jobs: Sequence[BindJob]) -> list[Registered | Exception]:
        reads: list[AuditRecord] = []
        answers: list[Registered | Exception] = []
        try:
            async with self._storage.unit_of_work() as uow:
                creates: list[AuditRecord] = []
                for request, who, caller in jobs:
                    try:
                        answers.append(await self._bind_in(uow, request, who, caller, reads, creates))
                    except REFUSALS as refused:
                        answers.append(refused)
                if creates:  # in this unit: no registration without its record
                    await uow.audit.record_many(creates)
            for answer in answers:
                if isinstance(answer, Registered):
                    self._seen.put(answer.tube)
        except Exception:
            if len(jobs) <= 1:
                raise
            answers, reads = [], []
            for job in jobs:
                try:
                    answers.append(await self._bind_alone(*job))
                except Exception as error:
                    answers.append(error)
        for record in reads:  # a scan again is a read: audited in batches, once the unit is over
            await self._audit_writer.submit(record)
        return answers

    async def _bind_alone(self, request: RegistrationRequest, who: Who, caller: Caller) -> Registered:
        reads: list[AuditRecord] = []
        creates: list[AuditRecord] = []
        refused: DualcodeError | None = None
        async with self._storage.unit_of_work(grouped=True) as uow:
            try:
                registered = await self._bind_in(uow, request, who, caller, reads, creates)
            except REFUSALS as refusal:  # as in a group: the identification stands, audited
                refused = refusal
            if creates:  # the resolve's and the registration's records: one insert
                await uow.audit.record_many(creates)
        if refused is not None:
            raise refused
        self._seen.put(registered.tube)
        for record in reads:
            await self._audit_writer.submit(record)
        return registered

    async def _bind_in(
        self,
        uow: UnitOfWork,
        request: RegistrationRequest,
        who: Who,
        caller: Caller,
        reads: list[AuditRecord],
        creates: list[AuditRecord],
    ) -> Registered:
        """Identify and bind one person. Audit: the resolve and a new registration are appended to
        ``creates`` for the caller to write in the same unit, all at once (also when the tube
        refuses the person: the identification stands); a scan again is a read, appended to
        ``reads`` (the caller submits them once the unit is over)."""
        if not isinstance(who, Identified):
            found = await self._scan.resolve_verified(
                uow, who, actor=caller.client_id, deferred_audit=creates
            )
            who = Identified(found.patient_id, masked_name(found.patient))
        wanted = SamplingRegistration(
            id=uuid.uuid4().hex,
            tube=request.tube,
            position=0,  # the store hands out the next one
            patient_id=who.patient_id,
            round=self.current_round(),  # a new tube's; an existing tube keeps its own
            point=request.point,
            registered_at=uow_now(),
            actor=caller.client_id,
            name_masked=who.name_masked,
            client_ref=request.client_ref,
            scanned_at=request.scanned_at,
        )
        placed = await uow.sampling.place(wanted, pool_size=request.pool_size)
        tube, registration = placed.tube, placed.registration
        if registration is None:
            check_tube_accepts(tube, request)
            raise TubeFull(f"tube {tube.barcode} cannot take more people")  # pragma: no cover
        flags = () if placed.in_other_tubes is False else await _flags(uow, registration.patient_id, tube)
        if not placed.created:
            reads.append(
                self._auditor.build_for(
                    caller,
                    action="R",
                    operation="sampling register-again",
                    patient_id=registration.patient_id,
                    detail={"tube": tube.barcode, "position": str(registration.position)},
                )
            )
            return Registered(registration, tube, created=False, flags=flags)
        record = self._auditor.build_for(
            caller,
            action="C",
            operation="sampling register",
            patient_id=registration.patient_id,
            detail={"tube": tube.barcode, "position": str(registration.position)},
        )
        creates.append(record)
        return Registered(registration, tube, created=True, flags=flags)

    async def close(self, barcode: str, caller: Caller) -> SamplingTube:
        """Close a tube (idempotent): it goes to the lab (outbox topic sampling.tube-closed)."""
        require_sampling(caller)
        async with self._storage.unit_of_work() as uow:
            tube = await uow.sampling.lock_tube(barcode)
            if tube is None:
                raise TubeNotFound(f"no tube {barcode}")
            if tube.status == "closed":
                self._seen.put(tube)
                return tube
            tube = await uow.sampling.set_status(barcode, "closed", at=uow_now())
            members = await uow.sampling.members(barcode)
            await uow.outbox.add(
                topic="sampling.tube-closed",
                destination="*",
                ordering_key=f"tube/{barcode}",
                payload={
                    "tube": barcode,
                    "round": tube.round,
                    "point": tube.point,
                    "pool_size": tube.pool_size,
                    "members": [
                        {"position": m.position, "patient": f"Patient/{m.patient_id}"} for m in members
                    ],
                    "bundle": tube_bundle(tube, members),
                    "oml": oml_messages(tube, members, sender=tube.point),
                },
            )
            await self._auditor.record_for(
                uow,
                caller,
                action="U",
                operation="sampling close-tube",
                detail={"tube": barcode, "members": str(len(members))},
            )
        self._seen.put(tube)
        return tube

    async def view(self, barcode: str, caller: Caller) -> tuple[SamplingTube, list[SamplingRegistration]]:
        require_sampling(caller)
        async with self._storage.unit_of_work(read_only=True) as uow:
            tube = await uow.sampling.get_tube(barcode)
            if tube is None:
                raise TubeNotFound(f"no tube {barcode}")
            members = await uow.sampling.members(barcode)
        for member in members:
            await self._audit_writer.submit(
                self._auditor.build_for(
                    caller,
                    action="R",
                    operation="sampling read-tube",
                    patient_id=member.patient_id,
                    detail={"tube": barcode},
                )
            )
        return tube, members


async def _flags(uow: UnitOfWork, patient_id: str, tube: SamplingTube) -> tuple[dict[str, Any], ...]:
    """Allowed but worth a look: the same person in another tube of the same round."""
    others = [t for t in await uow.sampling.tubes_of(patient_id, tube.round) if t != tube.barcode]
    return ({"code": OTHER_TUBE, "tubes": others},) if others else ()


def uow_now() -> datetime:
    return datetime.now(UTC)
