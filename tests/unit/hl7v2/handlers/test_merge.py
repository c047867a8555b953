"""ADT^A40: the prior patient (MRG-1) merges into the surviving one (PID-3) in the patient index."""

from __future__ import annotations

import pytest

from adapter.errors import UnknownKeyIdentifier
from adapter.hl7v2.handlers import AdtHandler, MergeHandler
from adapter.mpi import PatientIndex
from adapter.storage import MemoryStorage
from tests.unit.hl7v2.handlers.support import every, golden, read, run, utf8

BZRMYY = "urn:dualcode:hospital:BZRMYY:patient-number"
A40 = "adt_a40_merge"


def registration(number: str, control_id: str, id_number: str = "") -> bytes:
    """ADT^A04 of 孙强 under one hospital number (with an ID number, or without)."""
    ids = f"{id_number}^^^^NNCHN~" if id_number else ""
    return (
        "MSH|^~\\&|HIS|BZRMYY|DUALCODE|BZWJW|20250601080000||ADT^A04^ADT_A01|"
        f"{control_id}|P|2.5\rEVN|A04|20250601080000\r"
        f"PID|1||{ids}{number}^^^BZRMYY^MR||孙^强||19780222|M\r"
    ).encode()


async def test_the_prior_patient_merges_into_the_surviving_one_with_history() -> None:
    storage, index = MemoryStorage(), PatientIndex()
    prior = await run(storage, AdtHandler(index), registration("0078", "R1"))
    survivor = await run(storage, AdtHandler(index), registration("0077", "R2", "371602197802223313"))
    assert prior.patient_id != survivor.patient_id
    merged = await run(storage, MergeHandler(index), golden(A40))
    assert merged.patient_id == survivor.patient_id
    kinds = [r.split("/")[0] for r in merged.resources]
    assert kinds == ["Patient", "Patient", "Provenance"]
    old = (await read(storage, f"Patient/{prior.patient_id}")).body
    assert old["active"] is False
    assert old["link"] == [{"other": {"reference": f"Patient/{survivor.patient_id}"}, "type": "replaced-by"}]
    kept = (await read(storage, f"Patient/{survivor.patient_id}")).body
    assert kept["link"][0]["type"] == "replaces"
    async with storage.unit_of_work() as uow:
        link = await uow.identities.find(BZRMYY, "0078")
    assert link is not None and link.patient_id == survivor.patient_id  # the old number finds the survivor
    assert (await read(storage, merged.resources[2])).body["resourceType"] == "Provenance"
    # Sent again (another control id): merged already, nothing written.
    again = await run(storage, MergeHandler(index), utf8(A40, **{"A40-0001": "A40-0002"}))
    assert again.patient_id == survivor.patient_id and len(again.resources) == 1
    assert len(await every(storage, "Provenance")) == 1


async def test_an_unknown_survivor_is_created_from_the_pid() -> None:
    storage, index = MemoryStorage(), PatientIndex()
    prior = await run(storage, AdtHandler(index), registration("0078", "R1"))
    merged = await run(storage, MergeHandler(index), golden(A40))
    assert merged.patient_id != prior.patient_id
    kept = (await read(storage, f"Patient/{merged.patient_id}")).body
    numbers = [i["value"] for i in kept["identifier"] if i["system"] == BZRMYY]
    assert numbers == ["0077", "0078"] and kept["active"] is True  # the prior's number came along


async def test_an_unknown_prior_patient_is_ae_204_at_mrg_1() -> None:
    storage = MemoryStorage()
    with pytest.raises(UnknownKeyIdentifier) as caught:
        await run(storage, MergeHandler(PatientIndex()), golden(A40))
    assert caught.value.hl7_location == "MRG-1" and caught.value.hl7_ack == "AE"
    assert await every(storage, "Patient") == []
