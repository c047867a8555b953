"""Registering people into pooled tubes: identify through the card scan path, then bind in one unit
of work that holds the tube's lock, so concurrent scans into one tube never share a position and a
person never gets two positions in one tube."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from adapter.errors import (
    InsufficientScope,
    PoolSizeMismatch,
    TubeAtAnotherPoint,
    TubeClosed,
    TubeFull,
    TubeNotFound,
)
from adapter.sampling.lab import oml_messages, tube_bundle
from adapter.sampling.values import OTHER_TUBE, Registered, RegistrationRequest, masked_name
from adapter.scan import ScanRequest, ScanResult
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.caller import Caller
from adapter.security.scopes import ADMIN_SCOPE, SAMPLING_SCOPE
from adapter.storage.ports import Storage, UnitOfWork
from adapter.storage.records import SamplingRegistration, SamplingTube


class Scanner(Protocol):
    """What identifies a person: adapter.scan.CardScanService, the path $resolve-card takes."""

    async def scan(self, request: ScanRequest, *, actor: str) -> ScanResult: ...


@dataclass(frozen=True)
class Identified:
    patient_id: str
    name_masked: str


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
    ) -> None:
        self._storage, self._scan = storage, scan
        self._auditor, self._audit_writer = auditor, audit_writer
        self.tube_pattern = re.compile(tube_pattern)
        self._round_name, self._today = round_name, today

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
        who = await self.identify(request, caller)
        return await self.bind(request, who, caller)

    async def precheck(self, request: RegistrationRequest) -> None:
        async with self._storage.unit_of_work(read_only=True) as uow:
            tube = await uow.sampling.get_tube(request.tube)
        if tube is not None:
            check_tube_accepts(tube, request, room=False)

    async def identify(self, request: RegistrationRequest, caller: Caller) -> Identified:
        scan = ScanRequest(
            code=request.code,
            kind=request.kind,
            organization=request.point,
            step="sampling",
            name=request.name,
        )
        result = await self._scan.scan(scan, actor=caller.client_id)
        return Identified(result.patient_id, masked_name(result.patient))

    async def bind(self, request: RegistrationRequest, who: Identified, caller: Caller) -> Registered:
        round_name = self.current_round()
        async with self._storage.unit_of_work() as uow:
            tube = await uow.sampling.open_tube(
                barcode=request.tube, round=round_name, point=request.point, pool_size=request.pool_size
            )
            existing = await uow.sampling.member(tube.barcode, who.patient_id)
            if existing is not None:
                return await self._again(uow, existing, tube, caller)
            check_tube_accepts(tube, request)
            registration = SamplingRegistration(
                id=uuid.uuid4().hex,
                tube=tube.barcode,
                position=tube.filled + 1,
                patient_id=who.patient_id,
                round=tube.round,
                point=request.point,
                registered_at=uow_now(),
                actor=caller.client_id,
                name_masked=who.name_masked,
                client_ref=request.client_ref,
                scanned_at=request.scanned_at,
            )
            flags = await _flags(uow, who.patient_id, tube)
            await uow.sampling.add(registration)
            filled = tube.filled + 1  # what add() stored, without reading it back
            tube = replace(tube, filled=filled, status="full" if filled >= tube.pool_size else tube.status)
            await self._auditor.record(
                uow,
                agent=caller.client_id,
                action="C",
                operation="sampling register",
                patient_id=who.patient_id,
                source_ip=caller.source_ip,
                request_id=caller.request_id,
                detail={"tube": tube.barcode, "position": str(registration.position)},
            )
        return Registered(registration, tube, created=True, flags=flags)

    async def _again(
        self, uow: UnitOfWork, existing: SamplingRegistration, tube: SamplingTube, caller: Caller
    ) -> Registered:
        await self._audit_writer.submit(
            self._auditor.build(
                agent=caller.client_id,
                action="R",
                operation="sampling register-again",
                patient_id=existing.patient_id,
                source_ip=caller.source_ip,
                request_id=caller.request_id,
                detail={"tube": tube.barcode, "position": str(existing.position)},
            )
        )
        flags = await _flags(uow, existing.patient_id, tube)
        return Registered(existing, tube, created=False, flags=flags)

    async def close(self, barcode: str, caller: Caller) -> SamplingTube:
        """Close a tube (idempotent): it goes to the lab (outbox topic sampling.tube-closed)."""
        require_sampling(caller)
        async with self._storage.unit_of_work() as uow:
            tube = await uow.sampling.lock_tube(barcode)
            if tube is None:
                raise TubeNotFound(f"no tube {barcode}")
            if tube.status == "closed":
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
            await self._auditor.record(
                uow,
                agent=caller.client_id,
                action="U",
                operation="sampling close-tube",
                source_ip=caller.source_ip,
                request_id=caller.request_id,
                detail={"tube": barcode, "members": str(len(members))},
            )
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
                self._auditor.build(
                    agent=caller.client_id,
                    action="R",
                    operation="sampling read-tube",
                    patient_id=member.patient_id,
                    source_ip=caller.source_ip,
                    request_id=caller.request_id,
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
