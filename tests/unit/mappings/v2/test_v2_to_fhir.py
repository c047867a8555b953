"""v2 -> FHIR details the golden files do not each show: code tables, overrides, bad values."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mappings.hl7v2 import parse
from mappings.v2_to_fhir import SenderProfile, map_message
from mappings.v2_to_fhir.context import placeholder_uuid
from mappings.v2_to_fhir.datatypes import date_time
from mappings.v2_to_fhir.systems import EXT_ETHNICITY, EXT_SEX_GBT2261

MSH = "MSH|^~\\&|HIS|BZRMYY|DUALCODE|BZWJW|20250601083000||ADT^A04|C1|P|2.5\r"
PROFILE = SenderProfile(hospital_code="BZRMYY")


def patient(pid: str, profile: SenderProfile = PROFILE) -> dict[str, Any]:
    result = map_message(parse(MSH + pid + "\r"), profile)
    return result.resources("Patient")[0]


def result_of(body: str, profile: SenderProfile = PROFILE) -> Any:
    return map_message(parse(MSH + body), profile)


@pytest.mark.parametrize(
    ("sent", "gender", "gb"),
    [
        ("M", "male", None),
        ("F", "female", None),
        ("O", "other", None),
        ("U", "unknown", None),
        ("1", "male", "1"),
        ("2", "female", "2"),
        ("0", "unknown", "0"),
        ("9", "other", "9"),
    ],
)
def test_sex_hl7_and_gbt2261(sent: str, gender: str, gb: str | None) -> None:
    found = patient(f"PID|1||X1^^^^PI||张^三|||{sent}")
    assert found["gender"] == gender
    gb_codes = [e["valueCoding"]["code"] for e in found.get("extension", []) if e["url"] == EXT_SEX_GBT2261]
    assert gb_codes == ([gb] if gb else [])


def test_unknown_sex_is_an_issue_not_a_guess() -> None:
    result = result_of("PID|1||X1^^^^PI||张^三|||Q\r")
    assert "gender" not in result.resources("Patient")[0]
    assert [i.location for i in result.issues] == ["PID-8"]


@pytest.mark.parametrize("sent", ["01", "1", "HA", "ha"])
def test_ethnicity_numeric_or_letter(sent: str) -> None:
    found = patient(f"PID|1||X1^^^^PI||张^三|||M||||||||||||||{sent}")
    (ext,) = [e for e in found["extension"] if e["url"] == EXT_ETHNICITY]
    codes = [c["code"] for c in ext["valueCodeableConcept"]["coding"]]
    assert codes == ["01", "HA"]


def test_ethnicity_without_a_letter_code() -> None:
    found = patient("PID|1||X1^^^^PI||张^三|||M||||||||||||||97")
    (ext,) = found["extension"]
    assert [c["code"] for c in ext["valueCodeableConcept"]["coding"]] == ["97"]


def test_identifier_table_and_overrides() -> None:
    pid = "PID|1||11010519491231002x^^^^NNCHN~A1^^^BZZXYY^MR~B2^^^^MR~C3^^^^LOCAL~D4^^^BZRMYY^PI"
    default = patient(pid)
    systems = [(i.get("system"), i["value"]) for i in default["identifier"]]
    assert systems == [
        ("urn:oid:2.16.840.1.113883.2.23.1.19.1", "11010519491231002X"),  # x normalised
        ("urn:dualcode:hospital:BZZXYY:patient-number", "A1"),  # CX.4 names the hospital
        ("urn:dualcode:hospital:BZRMYY:patient-number", "B2"),  # else the sender's
        (None, "C3"),
        ("urn:dualcode:hospital:BZRMYY:patient-number", "D4"),
    ]
    overrides = {"LOCAL": "urn:oid:1.2.3", "PI@BZRMYY": "inpatient-number", "MR": "health-card-number"}
    custom = patient(pid, SenderProfile(hospital_code="BZRMYY", identifier_types=overrides))
    assert [i.get("system") for i in custom["identifier"]][1:] == [
        "urn:oid:2.16.156.10011.1.19",
        "urn:oid:2.16.156.10011.1.19",
        "urn:oid:1.2.3",
        "urn:oid:2.16.156.10011.1.12",
    ]


def test_an_assigner_oid_is_a_system_and_aliases_are_canonical() -> None:
    found = patient("PID|1||V1^^^X&1.2.156.99&ISO~V2^^^&2.16.156.10011.1.3&ISO")
    assert [i["system"] for i in found["identifier"]] == [
        "urn:oid:1.2.156.99",
        "urn:oid:2.16.840.1.113883.2.23.1.19.1",
    ]


def test_mr_without_any_hospital_is_a_medical_record_number() -> None:
    found = patient("PID|1||M1^^^^MR", SenderProfile())
    assert found["identifier"][0]["system"] == "urn:oid:2.16.156.10011.1.13"


def test_invalid_dates_are_issues() -> None:
    pv1 = "PV1|1|O" + "|" * 42 + "2025XX"  # PV1-44
    result = result_of(f"PID|1||X1^^^^PI||张^三||19851345|M\r{pv1}\r")
    assert "birthDate" not in result.resources("Patient")[0]
    assert {i.location for i in result.issues} == {"PID-7", "PV1-44"}


@pytest.mark.parametrize(
    ("sent", "fhir"),
    [
        ("2025", "2025"),
        ("202506", "2025-06"),
        ("20250601", "2025-06-01"),
        ("2025060108", "2025-06-01T08:00:00+08:00"),
        ("202506010830", "2025-06-01T08:30:00+08:00"),
        ("20250601083015.25-0500", "2025-06-01T08:30:15.25-05:00"),
        ("20251301", None),
        ("yesterday", None),
    ],
)
def test_date_times(sent: str, fhir: str | None) -> None:
    assert date_time(sent, PROFILE) == fhir


def test_observation_value_types_and_ranges() -> None:
    body = (
        "PID|1||X1^^^^PI||张^三\r"
        "OBR|1|||CBC^血常规^L|||20250601080000||||||||||||||||||F\r"
        "OBX|1|CE|ABO^血型^L||A^A型^L||||||F\r"
        "OBX|2|TX|NOTE^备注^L||第一行~第二行||||||P\r"
        "OBX|3|NM|GLU^血糖^L||5.6|mmol/L^mmol/L^UCUM|<6.1|N|||C\r"
        "OBX|4|NM|K^钾^L||>10|mmol/L|||||F\r"
        "OBX|5|ED|IMG^图像^L||data||||||F\r"
    )
    result = result_of(body)
    obs = result.resources("Observation")
    assert obs[0]["valueCodeableConcept"]["coding"][0]["code"] == "A"
    assert obs[1]["valueString"] == "第一行\n第二行"
    assert obs[1]["status"] == "preliminary"
    assert obs[2]["referenceRange"][0]["high"]["value"] == 6.1
    assert obs[2]["status"] == "corrected"
    assert "valueQuantity" not in obs[3]
    assert "valueString" not in obs[4]
    assert {u.location for u in result.unmapped} == {"OBX[5]-5"}
    assert {i.location for i in result.issues} == {"OBX[4]-5"}
    assert len(result.resources("DiagnosticReport")[0]["result"]) == 5


def test_segments_without_a_patient_are_reported() -> None:
    result = result_of("FT1|1|T1||20250601|||X^x\rOBX|1|ST|A^a||b\r")
    assert result.entries == ()
    assert [u.location for u in result.unmapped] == ["FT1", "OBX"]


def test_a_placeholder_pv1_makes_no_encounter() -> None:
    result = result_of("PID|1||X1^^^^PI\rPV1|1|N\r")
    assert result.resources("Encounter") == []
    assert result.unmapped == ()


def test_placeholders_are_stable_and_distinct() -> None:
    body = "PID|1||X1^^^^PI\rPV1|1|I\r"
    first, again = result_of(body), result_of(body)
    assert [e.full_url for e in first.entries] == [e.full_url for e in again.entries]
    assert len({e.full_url for e in first.entries}) == 2
    assert all(e.full_url.startswith("urn:uuid:") for e in first.entries)


@pytest.mark.parametrize("name", ["MSG1/Patient/1", "B000100000001/Encounter/2", "控制号/Coverage/1", ""])
def test_placeholders_are_the_uuid5_of_control_id_and_role(name: str) -> None:
    namespace = uuid.UUID("0d5c1f9e-58c2-4d0c-9a39-2f3c1a4c7b10")
    assert placeholder_uuid(name) == str(uuid.uuid5(namespace, name))


def test_a_wrong_id_check_character_is_an_issue_but_the_identifier_stays() -> None:
    result = result_of("PID|1||110105194912310021^^^^NNCHN~١١٠١٠٥١٩٤٩١٢٣١٠٠٢X^^^^NNCHN\r")
    values = [i["value"] for i in result.resources("Patient")[0]["identifier"]]
    assert values[0] == "110105194912310021"
    assert [i.location for i in result.issues] == ["PID-3[1]"]


def test_z_segments_can_be_kept_by_sender_configuration() -> None:
    profile = SenderProfile(hospital_code="BZRMYY", z_segments={"ZPI": "urn:bzrmyy:zpi"})
    result = result_of("PID|1||X1^^^^PI\rZPI|1|VIP^贵宾|a\\F\\b\rZPV|1\r", profile)
    (ext,) = result.resources("Patient")[0]["extension"]
    assert ext == {"url": "urn:bzrmyy:zpi", "valueString": "ZPI|1|VIP^贵宾|a\\F\\b"}
    assert [u.location for u in result.unmapped] == ["ZPV"]


def test_each_order_group_links_its_own_dispense() -> None:
    body = (
        "PID|1||X1^^^^PI\r"
        "ORC|RE|RX1^HIS\rRXE||D1^药一^L|1||g^g^UCUM\rRXD|1|D1^药一^L|20250601|10|g^g^UCUM\r"
        "ORC|RE|RX2^HIS\rRXE||D2^药二^L|2||g^g^UCUM\rRXD|1|D2^药二^L|20250601|20|g^g^UCUM\rRXR|PO^口服^HL70162\r"
        "ORC|DC|RX3^HIS\rRXD|1|D3^药三^L\r"
    )
    result = result_of(body)
    requests = [e for e in result.entries if e.resource["resourceType"] == "MedicationRequest"]
    urls = {e.resource["identifier"][0]["value"]: e.full_url for e in requests}
    dispenses = result.resources("MedicationDispense")
    assert [d.get("authorizingPrescription") for d in dispenses] == [
        [{"reference": urls["RX1"]}],
        [{"reference": urls["RX2"]}],
        None,
    ]
    assert dispenses[1]["dosageInstruction"][0]["route"]["coding"][0]["code"] == "PO"
    assert [r["status"] for r in result.resources("MedicationRequest")] == ["active", "active"]


def test_explicit_nulls_are_deletions_not_data() -> None:
    result = result_of('PID|1||X1^^^^PI||张^三|||""|||""||""\r')
    patient = result.resources("Patient")[0]
    assert "gender" not in patient
    assert "telecom" not in patient
    assert result.cleared == ("PID-8", "PID-11", "PID-13")
    assert result.to_json()["cleared"] == ["PID-8", "PID-11", "PID-13"]
    assert result.unmapped == ()
