"""The race paths of resolve, forced on the memory store with a store that looks but misses."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapter.errors import DuplicateKey, ServiceUnavailable
from adapter.mpi import IDENTIFIER_CONFLICT, PatientIndex
from adapter.storage import IdentityLink, MemoryStorage
from adapter.storage.ports import IdentityStore
from tests.unit.mpi.people import EHC_SYSTEM, ehc_id, person


class BlindFind:
    """Delegates to a real identity store, but ``find`` misses the hidden values: what a unit of
    work sees when another one links them between its look and its link."""

    def __init__(self, inner: IdentityStore, hidden: set[str], *, always_taken: bool = False) -> None:
        self._inner = inner
        self._hidden = hidden
        self._always_taken = always_taken

    async def link(
        self, system: str, value: str, patient_id: str, *, flagged: bool = False, note: str | None = None
    ) -> IdentityLink:
        if self._always_taken:
            raise DuplicateKey()
        return await self._inner.link(system, value, patient_id, flagged=flagged, note=note)

    async def find(self, system: str, value: str) -> IdentityLink | None:
        return None if value in self._hidden else await self._inner.find(system, value)

    async def find_many(
        self, keys: Sequence[tuple[str, str]], *, read_ahead: bool = False
    ) -> dict[tuple[str, str], IdentityLink]:
        return await self._inner.find_many(
            [k for k in keys if k[1] not in self._hidden], read_ahead=read_ahead
        )

    async def links_for(self, patient_id: str) -> list[IdentityLink]:
        return await self._inner.links_for(patient_id)

    async def relink(self, from_patient_id: str, to_patient_id: str) -> int:
        return await self._inner.relink(from_patient_id, to_patient_id)


async def test_an_identifier_taken_meanwhile_is_flagged_not_moved(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        other = await index.resolve(uow, person(2, name="李娜"), actor="a")
    async with storage.unit_of_work() as uow:
        uow.identities = BlindFind(uow.identities, {ehc_id(2)})
        mixed = person(1, identifiers=person(2).identifiers)  # carries person 2's EHC ID
        found = await index.resolve(uow, mixed, actor="a")
        assert found.created and [f.kind for f in found.flags] == [IDENTIFIER_CONFLICT]
        assert ehc_id(2) not in {i["value"] for i in found.patient["identifier"]}
    async with storage.unit_of_work() as uow:
        link = await uow.identities.find(EHC_SYSTEM, ehc_id(2))
        assert link is not None and link.patient_id == other.patient_id


async def test_endless_contention_gives_up_with_retry_later(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    with pytest.raises(ServiceUnavailable):
        async with storage.unit_of_work() as uow:
            uow.identities = BlindFind(uow.identities, set(), always_taken=True)
            await index.resolve(uow, person(1), actor="a")


async def test_resolution_values_hide_personal_data(storage: MemoryStorage, index: PatientIndex) -> None:
    async with storage.unit_of_work() as uow:
        found = await index.resolve(uow, person(1, name="欧阳娜娜"), actor="a")
        (candidate,) = await index.match(uow, person(1, name="欧阳娜娜"), limit=1)
    assert found.reference == f"Patient/{found.patient_id}"
    for value in (found, candidate):
        assert "欧阳" not in repr(value) and ehc_id(1) not in repr(value)
