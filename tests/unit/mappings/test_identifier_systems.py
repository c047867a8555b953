from __future__ import annotations

import pytest

from mappings.codes import IdentifierKey, default_identifier_systems, identifier_systems


def test_defaults_are_the_hl7_china_and_nhc_systems() -> None:
    systems = default_identifier_systems()
    assert systems.system(IdentifierKey.ID_NUMBER) == "urn:oid:2.16.840.1.113883.2.23.1.19.1"
    assert systems.system("ssc-card-number") == "urn:oid:2.16.840.1.113883.2.23.1.19.2"
    assert systems.system("health-card-number") == "urn:oid:2.16.156.10011.1.19"
    assert systems.system("outpatient-number") == "urn:oid:2.16.156.10011.1.11"
    assert systems.system("inpatient-number") == "urn:oid:2.16.156.10011.1.12"
    assert systems.system("medical-record-number") == "urn:oid:2.16.156.10011.1.13"
    assert systems.key_for("urn:oid:2.16.156.10011.1.3") is IdentifierKey.ID_NUMBER
    assert systems.key_for("urn:oid:2.16.156.10011.1.15") is IdentifierKey.SSC_CARD_NUMBER


def test_every_identifier_has_a_distinct_system() -> None:
    systems = default_identifier_systems()
    uris = [systems.table[key].system for key in IdentifierKey]
    assert len(set(uris)) == len(IdentifierKey)
    for key in IdentifierKey:
        if key is not IdentifierKey.HOSPITAL_PATIENT_NUMBER:
            assert systems.key_for(systems.system(key)) is key


def test_one_system_per_hospital() -> None:
    systems = default_identifier_systems()
    uri = systems.hospital_patient_number("H37160200001")
    assert uri == "urn:dualcode:hospital:H37160200001:patient-number"
    assert systems.hospital_code_for(uri) == "H37160200001"
    assert systems.key_for(uri) is IdentifierKey.HOSPITAL_PATIENT_NUMBER
    assert systems.hospital_code_for("urn:dualcode:hospital::patient-number") is None
    assert systems.key_for("urn:example:unknown") is None
    with pytest.raises(ValueError, match="hospital code"):
        systems.hospital_patient_number("H1:x")


def test_an_override_keeps_the_old_system_as_an_alias() -> None:
    systems = identifier_systems({"id-number": "urn:oid:1.2.3"})
    assert systems.system(IdentifierKey.ID_NUMBER) == "urn:oid:1.2.3"
    assert systems.key_for("urn:oid:2.16.840.1.113883.2.23.1.19.1") is IdentifierKey.ID_NUMBER
    assert systems.key_for("urn:oid:2.16.156.10011.1.3") is IdentifierKey.ID_NUMBER
    assert default_identifier_systems().system("id-number") == "urn:oid:2.16.840.1.113883.2.23.1.19.1"


def test_an_override_can_set_aliases_and_the_hospital_pattern() -> None:
    systems = identifier_systems(
        {
            "ehc-id": {"system": "urn:oid:9.9.9", "aliases": []},
            "hospital-patient-number": "https://his.example/{hospital_code}/mrn",
        }
    )
    assert systems.key_for("urn:dualcode:nhc:ehc-id") is None
    assert systems.hospital_patient_number("H1") == "https://his.example/H1/mrn"
    # the previous pattern is still recognised on input
    assert systems.hospital_code_for("urn:dualcode:hospital:H2:patient-number") == "H2"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"passport": "urn:oid:1"}, "unknown identifier system key"),
        ({"ssn": "not a uri"}, "URI"),
        ({"ssn": {"system": "urn:oid:1", "alias": []}}, "unknown override keys"),
        ({"ssn": {"aliases": "urn:oid:1"}}, "aliases"),
        ({"ssn": "urn:oid:2.16.156.10011.1.11"}, "given to both"),
        ({"hospital-patient-number": "urn:example:fixed"}, "hospital_code"),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        identifier_systems(overrides)  # type: ignore[arg-type]


def test_no_overrides_gives_the_cached_defaults() -> None:
    assert identifier_systems() is default_identifier_systems()
    assert identifier_systems({}) is default_identifier_systems()
