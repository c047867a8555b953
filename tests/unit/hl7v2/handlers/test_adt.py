"""ADT → the patient index (the Patient the cards resolve to, with the hospital's number), Encounter
and Coverage referencing it, all in the caller's unit of work."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from adapter.errors import RequiredFieldMissing, UnknownKeyIdentifier
from adapter.hl7v2.handlers import AdtHandler
from adapter.hl7v2.senders import SenderConfig
from adapter.mpi import PatientIndex
from adapter.storage import MemoryStorage
from adapter.storage.memory.resources import MemoryFhirRepository
from mappings.person import PersonFacts
from mappings.v2_to_fhir import SenderProfile
from tests.unit.hl7v2.handlers.support import every, golden, read, run, utf8, values
from tests.unit.hl7v2.samples import adt

ID_NUMBER = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
OUTPATIENT = "urn:oid:2.16.156.10011.1.11"
BZRMYY = "urn:dualcode:hospital:BZRMYY:patient-number"
BZZXYY = "urn:dualcode:hospital:BZZXYY:patient-number"
A04 = "adt_a04_v25_chinese"


def other_hospital() -> bytes:
    """The same person registering at another hospital, which has its own number for them."""
    return utf8(A04, **{"BZRMYY": "BZZXYY", "0012345": "ZY0099", "A04-0001": "A04-0002"})


async def test_a04_resolves_the_person_and_stores_visit_and_coverage_referencing_them() -> None:
    storage = MemoryStorage()
    result = await run(storage, AdtHandler(PatientIndex()), golden(A04))
    kinds = [r.split("/")[0] for r in result.resources]
    assert kinds == ["Patient", "Encounter", "Coverage"] and all("/_history/1" in r for r in result.resources)
    patient = (await read(storage, result.resources[0])).body
    assert result.patient_id == patient["id"]
    assert values(patient)[ID_NUMBER] == "371602198503151238" and values(patient)[BZRMYY] == "0012345"
    assert patient["name"][0]["text"] == "张伟" and patient["birthDate"] == "1985-03-15"
    encounter = (await read(storage, result.resources[1])).body
    coverage = (await read(storage, result.resources[2])).body
    assert encounter["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert coverage["beneficiary"] == {"reference": f"Patient/{patient['id']}"}
    assert not any("urn:uuid:" in str(body) for body in (encounter, coverage))
    # Nothing dropped silently: the identifier with no system and what the index keeps not, named.
    assert result.ack_text is not None and "PID-3[7]" in result.ack_text


async def test_a_person_first_seen_by_a_card_gets_each_hospitals_number_on_the_same_patient() -> None:
    storage, index = MemoryStorage(), PatientIndex()
    card = PersonFacts(
        source="essc", id_number="371602198503151238", name="张伟", sex="1", birth_date=date(1985, 3, 15)
    )
    async with storage.unit_of_work() as uow:
        scanned = await index.resolve(uow, card, actor="card")
    first = await run(storage, AdtHandler(index), golden(A04))
    second = await run(storage, AdtHandler(index), other_hospital())
    assert first.patient_id == second.patient_id == scanned.patient_id
    (patient,) = await every(storage, "Patient")
    assert values(patient)[BZRMYY] == "0012345" and values(patient)[BZZXYY] == "ZY0099"
    async with storage.unit_of_work() as uow:
        link = await uow.identities.find(BZZXYY, "ZY0099")
    assert link is not None and link.patient_id == scanned.patient_id


async def test_an_update_applies_new_contact_details_and_sends_a_new_name_to_review() -> None:
    storage, handler = MemoryStorage(), AdtHandler(PatientIndex())
    registered = await run(storage, handler, adt("U1").encode())
    moved = await run(storage, handler, adt("U2", event="A08", phone="13900000009").encode())
    assert moved.resources[0].endswith("/_history/2")
    renamed = await run(
        storage, handler, adt("U3", event="A08", family="JONES", phone="13900000009").encode()
    )
    assert registered.patient_id == moved.patient_id == renamed.patient_id
    patient = (await read(storage, f"Patient/{renamed.patient_id}")).body
    assert patient["name"][0]["text"] == "JOHN SMITH" and patient["telecom"][0]["value"] == "13900000009"
    assert [t["code"]["text"] for t in await every(storage, "Task")] == ["demographic-conflict"]
    # The A04 started a visit; the updates, whose PV1 names none (no PV1-19), added none.
    assert [r.split("/")[0] for r in registered.resources] == ["Patient", "Encounter"]
    assert [r.split("/")[0] for r in moved.resources] == ["Patient"]
    assert moved.ack_text is not None and "PV1" in moved.ack_text
    assert len(await every(storage, "Encounter")) == 1


async def test_the_same_visit_sent_again_unchanged_writes_no_new_version() -> None:
    storage, handler = MemoryStorage(), AdtHandler(PatientIndex())
    first = await run(storage, handler, golden(A04))
    again = await run(storage, handler, utf8(A04, **{"A04-0001": "A04-0009"}))
    assert again.resources == first.resources
    assert len(await every(storage, "Encounter")) == 1 and len(await every(storage, "Coverage")) == 1


async def test_only_a_known_persons_message_looks_up_its_visit_and_coverage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A person created by this message has nothing stored that refers to them: no lookup is made.
    # A second message about them finds the visit and the coverage the first one stored.
    searched: list[str] = []
    search = MemoryFhirRepository.search

    async def counting(self: MemoryFhirRepository, resource_type: str, *args: Any, **kwargs: Any) -> Any:
        searched.append(resource_type)
        return await search(self, resource_type, *args, **kwargs)

    monkeypatch.setattr(MemoryFhirRepository, "search", counting)
    storage, handler = MemoryStorage(), AdtHandler(PatientIndex())
    first = await run(storage, handler, golden(A04))
    assert not {"Encounter", "Coverage"} & set(searched)
    again = await run(storage, handler, utf8(A04, **{"A04-0001": "A04-0010"}))
    assert {"Encounter", "Coverage"} <= set(searched)
    assert again.resources == first.resources


async def test_a_senders_profile_maps_its_own_identifier_types() -> None:
    storage = MemoryStorage()
    profile = SenderProfile(identifier_types={"PI@BZRMYY": "outpatient-number"})
    config = SenderConfig("HIS^BZRMYY", "utf-8", profile=profile)
    result = await run(storage, AdtHandler(PatientIndex()), golden(A04), config)
    patient = (await read(storage, result.resources[0])).body
    assert values(patient)[OUTPATIENT] == "P88001" and values(patient)[BZRMYY] == "0012345"


async def test_gb18030_a01_with_an_inpatient_visit() -> None:
    storage = MemoryStorage()
    result = await run(storage, AdtHandler(PatientIndex()), golden("adt_a01_v231_pv1_in1"))
    patient = (await read(storage, result.resources[0])).body
    assert values(patient)[BZZXYY] == "ZY0007788" and values(patient)[ID_NUMBER] == "37160219900708224X"
    encounter = (await read(storage, result.resources[1])).body
    assert encounter["status"] == "in-progress" and encounter["class"]["code"] == "IMP"


async def test_z_segments_are_reported_not_dropped() -> None:
    result = await run(MemoryStorage(), AdtHandler(PatientIndex()), golden("adt_a04_z_segments"))
    assert result.ack_text is not None and "ZPI" in result.ack_text and "ZPV" in result.ack_text


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        (adt("E1").replace("P1001^^^H001^MR", ""), "PID-3"),
        ("\r".join(s for s in adt("E2").split("\r") if not s.startswith("PID")), "PID"),
    ],
)
async def test_a_missing_pid_or_pid_3_is_refused_and_nothing_is_written(raw: str, location: str) -> None:
    storage = MemoryStorage()
    with pytest.raises(RequiredFieldMissing) as caught:
        await run(storage, AdtHandler(PatientIndex()), raw.encode())
    assert caught.value.hl7_location == location and caught.value.hl7_code == "101"
    assert caught.value.hl7_ack == "AR" and await every(storage, "Patient") == []


async def test_identifiers_of_unknown_domains_only_are_ae_204() -> None:
    raw = adt("E3").replace("P1001^^^H001^MR", "C99^^^XYZ^ZZ").replace("HIS|H001", "HIS|医院")
    with pytest.raises(UnknownKeyIdentifier) as caught:
        await run(MemoryStorage(), AdtHandler(PatientIndex()), raw.encode())
    assert caught.value.hl7_location == "PID-3" and caught.value.hl7_code == "204"
