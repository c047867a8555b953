"""v2 -> FHIR -> v2 -> FHIR: the ADT golden messages keep every mapped field through the builders."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from mappings.fhir_to_v2 import AdtEvent, Envelope, adt_message, merge_message
from mappings.hl7v2 import Message, parse
from mappings.v2_to_fhir import V2Result, map_message
from tests.golden.cases import V2_TO_FHIR, profile_for, read_message

ADT_CASES = ["adt_a04_v25_chinese", "adt_a01_v231_pv1_in1", "adt_a08_update", "adt_a04_z_segments"]


def envelope_of(msg: Message) -> Envelope:
    return Envelope(
        control_id=msg.control_id,
        timestamp=msg.get("MSH-7"),
        sending_application=msg.get("MSH-3"),
        sending_facility=msg.get("MSH-4"),
        version=msg.version,
    )


def first(result: V2Result, kind: str) -> dict[str, Any] | None:
    found = result.resources(kind)
    return found[0] if found else None


@pytest.mark.parametrize("case", ADT_CASES)
def test_adt_round_trip_keeps_every_mapped_field(case: str) -> None:
    path = V2_TO_FHIR / f"{case}.hl7"
    original = read_message(path)
    profile = profile_for(path, original)
    before = map_message(original, profile)
    patient = first(before, "Patient")
    assert patient is not None
    rebuilt = adt_message(
        cast(AdtEvent, original.trigger_event),
        patient,
        envelope_of(original),
        encounter=first(before, "Encounter"),
        coverages=before.resources("Coverage"),
        profile=profile,
    )
    after = map_message(parse(rebuilt.encode()), profile)
    assert after.to_json()["entries"] == before.to_json()["entries"]
    # Only what v2 -> FHIR reported as unmapped may be missing from the rebuilt message.
    assert after.unmapped == ()


def test_merge_round_trip() -> None:
    path: Path = V2_TO_FHIR / "adt_a40_merge.hl7"
    original = read_message(path)
    profile = profile_for(path, original)
    before = map_message(original, profile)
    (merge,) = before.merges
    rebuilt = merge_message(
        before.resources("Patient")[0],
        merge.prior,
        envelope_of(original),
        prior_name=merge.prior_name,
        prior_account=merge.prior_account,
        prior_visit=merge.prior_visit,
        profile=profile,
    )
    after = map_message(parse(rebuilt.encode()), profile)
    assert after.to_json()["entries"] == before.to_json()["entries"]
    assert after.merges == before.merges


def test_a_patient_from_the_card_flow_gets_table_types() -> None:
    """Identifiers without a type (as the patient index makes them) get CX.5 from the system table."""
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": "urn:oid:2.16.840.1.113883.2.23.1.19.1", "value": "11010519491231002X"},
            {"system": "urn:oid:2.16.840.1.113883.2.23.1.19.2", "value": "X00000019"},
            {"system": "urn:dualcode:hospital:BZRMYY:patient-number", "value": "0012345"},
            {"system": "urn:dualcode:nhc:ehc-id", "value": "98FF9F2C"},
        ],
        "name": [{"text": "张三", "family": "张", "given": ["三"]}],
        "gender": "female",
        "birthDate": "1949-12-31",
    }
    msg = adt_message("A28", patient, Envelope("C9", "2025-06-01T08:30:00+08:00"))
    assert msg.get("PID-3") == "11010519491231002X^^^^NNCHN"
    assert msg.get("PID-3[2]") == "X00000019^^^^MedCard"
    assert msg.get("PID-3[3]") == "0012345^^^BZRMYY^MR"
    assert msg.get("PID-3[4].4.2") == "urn:dualcode:nhc:ehc-id"
    assert msg.get("MSH-9") == "ADT^A28^ADT_A05"
    assert msg.get("PV1-2") == "N"
    back = map_message(parse(msg.encode())).resources("Patient")[0]
    assert [(i["system"], i["value"]) for i in back["identifier"]] == [
        (i["system"], i["value"]) for i in patient["identifier"]
    ]
