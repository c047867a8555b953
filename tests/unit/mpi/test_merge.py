"""Merge and unmerge with history on the memory store."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.provenance import Provenance

from adapter.errors import InvalidRequest
from adapter.mpi import PATIENT_MERGED, PATIENT_UNMERGED, PatientIndex, Resolution
from adapter.storage import MemoryStorage
from adapter.storage.ports import UnitOfWork
from tests.r4 import assert_valid_r4
from tests.unit.mpi.people import EHC_SYSTEM, ID_SYSTEM, ehc_id, id_number, person


async def _two(uow: UnitOfWork, index: PatientIndex) -> tuple[Resolution, Resolution]:
    source = await index.resolve(uow, person(1, name="张伟"), actor="a")
    target = await index.resolve(uow, person(2, name="张伟"), actor="a")
    return source, target


async def test_merge_retires_the_source_and_moves_its_links(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        source, target = await _two(uow, index)
        result = await index.merge(
            uow, source.patient_id, target.patient_id, actor="admin", reason="same person"
        )
        assert result.moved_links == 2
        old = (await uow.resources.read("Patient", source.patient_id)).body
        new = (await uow.resources.read("Patient", target.patient_id)).body
        assert old["active"] is False
        assert old["link"] == [
            {"other": {"reference": f"Patient/{target.patient_id}"}, "type": "replaced-by"}
        ]
        assert new["link"] == [{"other": {"reference": f"Patient/{source.patient_id}"}, "type": "replaces"}]
        assert {i["value"] for i in new["identifier"]} == {id_number(1), ehc_id(1), id_number(2), ehc_id(2)}
        for body in (old, new):
            assert_valid_r4(body)
        link = await uow.identities.find(ID_SYSTEM, id_number(1))
        assert link is not None and link.patient_id == target.patient_id
        provenance = (await uow.resources.read("Provenance", result.provenance.split("/")[1])).body
        Provenance.model_validate(provenance)
        assert_valid_r4(provenance)
        assert provenance["activity"]["coding"][0]["code"] == "merge"
        assert provenance["reason"] == [{"text": "same person"}]
        assert provenance["target"][0]["reference"] == f"Patient/{source.patient_id}/_history/2"
        merged_event = (await uow.outbox.list())[-1]
        assert merged_event.topic == PATIENT_MERGED
        assert merged_event.ordering_key == f"Patient/{source.patient_id}"
        assert merged_event.payload["target"] == f"Patient/{target.patient_id}"
        (audit,) = await uow.audit.search(agent="admin")
        assert (audit.operation, audit.patient_id, audit.resource) == (
            "merge Patient",
            target.patient_id,
            result.provenance,
        )
        # The source's card now resolves to the target, also when asked by the old id.
        again = await index.resolve(uow, person(1, name="张伟"), actor="a")
        assert again.patient_id == target.patient_id
        number = await index.assign_local_number(uow, source.patient_id, "H001")
        assert (await uow.identities.find(index.systems.hospital_patient_number("H001"), number)) is not None


async def test_unmerge_restores_exactly_what_moved(storage: MemoryStorage, index: PatientIndex) -> None:
    async with storage.unit_of_work() as uow:
        source, target = await _two(uow, index)
        before_target = (await uow.resources.read("Patient", target.patient_id)).body
        merge = await index.merge(
            uow, source.patient_id, target.patient_id, actor="admin", reason="looked alike"
        )
        number = await index.assign_local_number(uow, target.patient_id, "H001")  # added after the merge
        undo = await index.unmerge(uow, merge.provenance, actor="admin", reason="two people after all")
        assert undo.moved_links == 2
        for system, value, owner in (
            (ID_SYSTEM, id_number(1), source.patient_id),
            (EHC_SYSTEM, ehc_id(1), source.patient_id),
            (ID_SYSTEM, id_number(2), target.patient_id),
        ):
            link = await uow.identities.find(system, value)
            assert link is not None and link.patient_id == owner
        hospital = await uow.identities.find(index.systems.hospital_patient_number("H001"), number)
        assert hospital is not None and hospital.patient_id == target.patient_id
        old = (await uow.resources.read("Patient", source.patient_id)).body
        new = (await uow.resources.read("Patient", target.patient_id)).body
        assert old["active"] is True and "link" not in old
        assert "link" not in new
        assert [i["value"] for i in new["identifier"]] == [
            *(i["value"] for i in before_target["identifier"]),
            number,
        ]
        record = (await uow.resources.read("Provenance", undo.provenance.split("/")[1])).body
        assert record["activity"]["coding"][0]["code"] == "unmerge"
        Provenance.model_validate(record)
        assert_valid_r4(record)
        assert (await uow.outbox.list())[-1].topic == PATIENT_UNMERGED
        assert [a.operation for a in await uow.audit.search(agent="admin")] == [
            "unmerge Patient",
            "merge Patient",
        ]
        with pytest.raises(InvalidRequest):  # undone already
            await index.unmerge(uow, merge.provenance, actor="admin", reason="again")


async def test_bad_merges_are_refused(storage: MemoryStorage, index: PatientIndex) -> None:
    async with storage.unit_of_work() as uow:
        source, target = await _two(uow, index)
        with pytest.raises(InvalidRequest):
            await index.merge(uow, source.patient_id, source.patient_id, actor="admin", reason="x")
        await index.merge(uow, source.patient_id, target.patient_id, actor="admin", reason="x")
        with pytest.raises(InvalidRequest):
            await index.merge(uow, source.patient_id, target.patient_id, actor="admin", reason="x")
        with pytest.raises(InvalidRequest):
            await index.unmerge(uow, "Patient/x", actor="admin", reason="x")
