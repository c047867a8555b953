"""SamplingStore in memory: tubes and registrations with the SQL store's uniqueness rules."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from adapter.errors import DuplicateKey, ResourceNotFound
from adapter.storage.records import SamplingPlacement, SamplingRegistration, SamplingTube
from adapter.storage.shared import utc

if TYPE_CHECKING:
    from adapter.storage.memory.state import Tx


@dataclass
class SamplingTables:
    tubes: dict[str, SamplingTube] = field(default_factory=dict)  # insertion order = seq
    registrations: dict[str, SamplingRegistration] = field(default_factory=dict)
    by_position: dict[tuple[str, int], str] = field(default_factory=dict)
    by_member: dict[tuple[str, str], str] = field(default_factory=dict)  # (tube, patient) -> id
    by_client_ref: dict[str, str] = field(default_factory=dict)
    by_round: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (patient, round)


class MemorySamplingStore:
    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    @property
    def _t(self) -> SamplingTables:
        return self._tx.check().sampling

    async def open_tube(self, *, barcode: str, round: str, point: str, pool_size: int) -> SamplingTube:
        tables = self._t
        existing = tables.tubes.get(barcode)
        if existing is not None:
            return existing
        tube = SamplingTube(
            barcode=barcode,
            round=round,
            point=point,
            pool_size=pool_size,
            opened_at=self._tx.clock.now(),
            seq=self._tx.next_seq("sampling_tubes"),
        )
        self._tx.journal.put(tables.tubes, barcode, tube)
        return tube

    async def lock_tube(self, barcode: str) -> SamplingTube | None:
        return self._t.tubes.get(barcode)  # units of work are serialised: the lock is implicit

    async def get_tube(self, barcode: str) -> SamplingTube | None:
        return self._t.tubes.get(barcode)

    async def add(self, registration: SamplingRegistration) -> SamplingRegistration:
        tables = self._t
        tube = tables.tubes.get(registration.tube)
        if tube is None:
            raise ResourceNotFound("no such tube")
        member_key = (registration.tube, registration.patient_id)
        position_key = (registration.tube, registration.position)
        if (
            registration.id in tables.registrations
            or position_key in tables.by_position
            or member_key in tables.by_member
            or (registration.client_ref is not None and registration.client_ref in tables.by_client_ref)
        ):
            raise DuplicateKey("this registration clashes with one already stored")
        journal = self._tx.journal
        journal.put(tables.registrations, registration.id, registration)
        journal.put(tables.by_position, position_key, registration.id)
        journal.put(tables.by_member, member_key, registration.id)
        if registration.client_ref is not None:
            journal.put(tables.by_client_ref, registration.client_ref, registration.id)
        round_key = (registration.patient_id, registration.round)
        journal.put(tables.by_round, round_key, (*tables.by_round.get(round_key, ()), registration.tube))
        filled = tube.filled + 1
        status = "full" if filled >= tube.pool_size and tube.status == "open" else tube.status
        journal.put(tables.tubes, tube.barcode, replace(tube, filled=filled, status=status))
        return registration

    async def place(self, registration: SamplingRegistration, *, pool_size: int) -> SamplingPlacement:
        tables = self._t
        tube = tables.tubes.get(registration.tube)
        if tube is not None:
            found = tables.by_member.get((tube.barcode, registration.patient_id))
            if found is not None:
                return SamplingPlacement(tube, tables.registrations[found], created=False)
            if (
                tube.status != "open"
                or tube.filled >= tube.pool_size
                or tube.pool_size != pool_size
                or tube.point != registration.point
            ):
                return SamplingPlacement(tube, None, created=False)
        if registration.client_ref is not None:
            known = tables.by_client_ref.get(registration.client_ref)
            if known is not None:
                stored = tables.registrations[known]
                return SamplingPlacement(tables.tubes[stored.tube], stored, created=False)
        if tube is None:
            tube = await self.open_tube(
                barcode=registration.tube,
                round=registration.round,
                point=registration.point,
                pool_size=pool_size,
            )
        placed = replace(registration, position=tube.filled + 1, round=tube.round)
        await self.add(placed)
        elsewhere = any(t != placed.tube for t in tables.by_round.get((placed.patient_id, placed.round), ()))
        return SamplingPlacement(tables.tubes[tube.barcode], placed, True, elsewhere)

    async def by_client_refs(self, client_refs: Sequence[str]) -> dict[str, SamplingRegistration]:
        tables = self._t
        found = ((ref, tables.by_client_ref.get(ref)) for ref in client_refs)
        return {ref: tables.registrations[i] for ref, i in found if i is not None}

    async def set_status(self, barcode: str, status: str, *, at: datetime) -> SamplingTube:
        tube = self._existing(barcode)
        closed_at = utc(at) if status == "closed" else tube.closed_at
        updated = replace(tube, status=status, closed_at=closed_at)
        self._tx.journal.put(self._t.tubes, barcode, updated)
        return updated

    async def set_result(self, barcode: str, result: str, *, at: datetime) -> SamplingTube:
        updated = replace(self._existing(barcode), result=result, resulted_at=utc(at))
        self._tx.journal.put(self._t.tubes, barcode, updated)
        return updated

    async def member(self, tube: str, patient_id: str) -> SamplingRegistration | None:
        tables = self._t
        found = tables.by_member.get((tube, patient_id))
        return None if found is None else tables.registrations[found]

    async def by_client_ref(self, client_ref: str) -> SamplingRegistration | None:
        tables = self._t
        found = tables.by_client_ref.get(client_ref)
        return None if found is None else tables.registrations[found]

    async def members(self, tube: str) -> builtins.list[SamplingRegistration]:
        tables = self._t
        stored = tables.tubes.get(tube)
        if stored is None:
            return []
        ids = (tables.by_position.get((tube, n)) for n in range(1, stored.filled + 1))
        return [tables.registrations[i] for i in ids if i is not None]

    async def tubes_of(self, patient_id: str, round: str) -> builtins.list[str]:
        return list(self._t.by_round.get((patient_id, round), ()))

    async def list_tubes(
        self,
        *,
        status: str | None = None,
        round: str | None = None,
        result: str | None = None,
        closed_since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[SamplingTube]:
        since = None if closed_since is None else utc(closed_since)
        found: builtins.list[SamplingTube] = []
        for tube in self._t.tubes.values():
            if len(found) >= limit:
                break
            if (
                (status is None or tube.status == status)
                and (round is None or tube.round == round)
                and (result is None or tube.result == result)
                and (since is None or (tube.closed_at is not None and tube.closed_at >= since))
            ):
                found.append(tube)
        return found

    def _existing(self, barcode: str) -> SamplingTube:
        tube = self._t.tubes.get(barcode)
        if tube is None:
            raise ResourceNotFound("no such tube")
        return tube
