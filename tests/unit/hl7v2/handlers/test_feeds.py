"""DFT, RDE, RDS and ORU: resources about the resolved Patient (created when unknown), references
resolved, nothing written when the message lacks what it is about."""

from __future__ import annotations

import pytest

from adapter.errors import RequiredFieldMissing
from adapter.hl7v2.handlers import (
    AdtHandler,
    ChargeHandler,
    DispenseHandler,
    PrescriptionHandler,
    ResultHandler,
)
from adapter.mpi import PatientIndex
from adapter.storage import MemoryStorage
from tests.unit.hl7v2.handlers.support import every, golden, read, run, utf8


def kinds(resources: tuple[str, ...]) -> list[str]:
    return [r.split("/")[0] for r in resources]


async def test_a_dft_records_each_ft1_as_a_charge_item_of_the_registered_patient() -> None:
    storage, index = MemoryStorage(), PatientIndex()
    registered = await run(storage, AdtHandler(index), golden("adt_a04_v25_chinese"))
    result = await run(storage, ChargeHandler(index), golden("dft_p03_two_ft1"))
    assert result.patient_id == registered.patient_id
    assert kinds(result.resources) == ["Patient", "Encounter", "ChargeItem", "ChargeItem"]
    assert result.resources[1] == registered.resources[1]  # the visit the ADT stored, not a copy
    charges = [(await read(storage, r)).body for r in result.resources[2:]]
    assert [c["priceOverride"] for c in charges] == [
        {"value": 10.0, "currency": "CNY"},
        {"value": 51.0, "currency": "CNY"},
    ]
    assert [c["quantity"]["value"] for c in charges] == [1, 2]
    encounter_id = result.resources[1].split("/")[1]
    for charge in charges:
        assert charge["subject"] == {"reference": f"Patient/{registered.patient_id}"}
        assert charge["context"] == {"reference": f"Encounter/{encounter_id}"}


async def test_a_feed_about_an_unknown_person_creates_them() -> None:
    storage = MemoryStorage()
    result = await run(storage, ChargeHandler(PatientIndex()), golden("dft_p03_two_ft1"))
    (patient,) = await every(storage, "Patient")
    assert result.patient_id == patient["id"] and len(await every(storage, "ChargeItem")) == 2


async def test_a_resent_charge_is_a_new_version_not_a_second_charge() -> None:
    storage, handler = MemoryStorage(), ChargeHandler(PatientIndex())
    await run(storage, handler, golden("dft_p03_two_ft1"))
    again = await run(
        storage, handler, utf8("dft_p03_two_ft1", **{"P03-0001": "P03-0002", "|2|51.00": "|3|76.50"})
    )
    assert len(await every(storage, "ChargeItem")) == 2
    assert again.resources[2].endswith("/_history/1") and again.resources[3].endswith("/_history/2")


async def test_rde_then_rds_order_and_dispense_of_one_prescription() -> None:
    storage, index = MemoryStorage(), PatientIndex()
    ordered = await run(storage, PrescriptionHandler(index), golden("rde_o11"))
    assert kinds(ordered.resources) == ["Patient", "Encounter", "MedicationRequest"]
    request = (await read(storage, ordered.resources[2])).body
    assert request["subject"] == {"reference": f"Patient/{ordered.patient_id}"}
    dispensed = await run(storage, DispenseHandler(index), golden("rds_o13"))
    assert kinds(dispensed.resources) == ["Patient", "Encounter", "MedicationRequest", "MedicationDispense"]
    assert dispensed.resources[2] == ordered.resources[2]  # the order as prescribed, not overwritten
    dispense = (await read(storage, dispensed.resources[3])).body
    request_ref = ordered.resources[2].rsplit("/_history", 1)[0]
    assert dispense["authorizingPrescription"] == [{"reference": request_ref}]
    assert dispense["subject"] == {"reference": f"Patient/{ordered.patient_id}"}


async def test_oru_stores_the_report_and_its_observations() -> None:
    storage = MemoryStorage()
    result = await run(storage, ResultHandler(PatientIndex()), golden("oru_r01_nm_st"))
    assert kinds(result.resources) == ["Patient", "Encounter", "DiagnosticReport", *["Observation"] * 3]
    report = (await read(storage, result.resources[2])).body
    observations = [r.rsplit("/_history", 1)[0] for r in result.resources[3:]]
    assert [r["reference"] for r in report["result"]] == observations
    first = (await read(storage, result.resources[3])).body
    assert first["valueQuantity"]["value"] == 6.5
    assert first["subject"] == report["subject"] == {"reference": f"Patient/{result.patient_id}"}


@pytest.mark.parametrize(
    ("handler", "name", "segment"),
    [
        (ChargeHandler, "dft_p03_two_ft1", "FT1"),
        (PrescriptionHandler, "rde_o11", "RXE"),
        (DispenseHandler, "rds_o13", "RXD"),
        (ResultHandler, "oru_r01_nm_st", "OBR"),
    ],
)
async def test_without_its_segment_a_message_is_refused_ar_101(
    handler: type[ChargeHandler], name: str, segment: str
) -> None:
    storage = MemoryStorage()
    raw = "\r".join(s for s in golden(name).decode().split("\r") if not s.startswith(segment)).encode()
    with pytest.raises(RequiredFieldMissing) as caught:
        await run(storage, handler(PatientIndex()), raw)
    assert caught.value.hl7_location == segment and await every(storage, "Patient") == []
