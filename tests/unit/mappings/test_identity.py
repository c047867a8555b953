"""PersonFacts -> Patient, folding later facts in, and NHSA insurance -> Coverage (golden-style)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient

from mappings.codes import IdentifierKey, identifier_systems
from mappings.identity import PersonFacts as FacadeFacts
from mappings.identity_documents import mod11_2_check_char
from mappings.person import (
    FactIdentifier,
    PersonFacts,
    coverage_from_insurance,
    fold_name,
    identifier_of,
    merge_facts_into_patient,
    patient_from_facts,
    payor_organization,
    split_name,
)
from tests.r4 import assert_valid_r4

SYSTEMS = identifier_systems()
ID_SYSTEM = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def id_number(body: str) -> str:
    return body + mod11_2_check_char(body)


ID_A = id_number("37160219900101123")  # synthetic: Bincheng district, born 1990-01-01, male
EHC = "AB" * 32


def facts(**changes: Any) -> PersonFacts:
    base: dict[str, Any] = {
        "source": "ehc",
        "id_number": ID_A.lower(),
        "name": "欧阳明远",
        "sex": "1",
        "birth_date": date(1990, 1, 1),
        "ethnicity": "01",
        "phone": "138 0000 0001",
        "address": "山东省滨州市滨城区测试路1号",
        "identifiers": (identifier_of(SYSTEMS, IdentifierKey.EHC_ID, EHC),),
    }
    base.update(changes)
    return PersonFacts(**base)


def assert_valid(resource: dict[str, Any]) -> None:
    model = {"Patient": Patient, "Coverage": Coverage, "Organization": Organization}[resource["resourceType"]]
    model.model_validate(resource)
    assert_valid_r4(resource)


GOLDEN_PATIENT = {
    "resourceType": "Patient",
    "id": "p-1",
    "active": True,
    "identifier": [
        {
            "system": ID_SYSTEM,
            "value": ID_A,
            "use": "official",
            "type": {
                "coding": [
                    {"system": V2, "code": "NNCHN", "display": "National Person Identifier (China)"},
                    {"system": "urn:dualcode:identifier-key", "code": "id-number"},
                ],
                "text": "居民身份证号码",
            },
        },
        {
            "system": "urn:dualcode:nhc:ehc-id",
            "value": EHC,
            "type": {
                "coding": [
                    {"system": V2, "code": "HC", "display": "Health Card Number"},
                    {"system": "urn:dualcode:identifier-key", "code": "ehc-id"},
                ],
                "text": "电子健康卡ID",
            },
        },
    ],
    "name": [{"use": "official", "text": "欧阳明远", "family": "欧阳", "given": ["明远"]}],
    "birthDate": "1990-01-01",
    "gender": "male",
    "extension": [
        {
            "url": "urn:dualcode:extension:gbt2261-sex",
            "valueCoding": {"system": "urn:dualcode:code-system:gbt2261.1", "code": "1", "display": "男性"},
        },
        {
            "url": "urn:dualcode:extension:ethnicity",
            "valueCodeableConcept": {
                "coding": [
                    {"system": "urn:dualcode:code-system:gb3304", "code": "01", "display": "汉族"},
                    {"system": "urn:dualcode:code-system:gb3304-letter", "code": "HA", "display": "汉族"},
                ],
                "text": "汉族",
            },
        },
    ],
    "telecom": [{"system": "phone", "value": "13800000001", "rank": 1, "use": "mobile"}],
    "address": [{"use": "home", "text": "山东省滨州市滨城区测试路1号"}],
}


def test_patient_from_facts_golden() -> None:
    patient = patient_from_facts(facts(), SYSTEMS, patient_id="p-1")
    assert patient == GOLDEN_PATIENT
    assert_valid(patient)


def test_the_facade_module_exports_the_same_names() -> None:
    assert FacadeFacts is PersonFacts


@pytest.mark.parametrize(
    ("name", "family", "given"),
    [
        ("张伟", "张", ["伟"]),
        ("欧阳娜娜", "欧阳", ["娜娜"]),
        ("司马相如", "司马", ["相如"]),
        ("诸葛亮", "诸葛", ["亮"]),
        ("上官婉儿", "上官", ["婉儿"]),
        ("歐陽修", "歐陽", ["修"]),  # traditional compound surname, kept as written
        ("陳大文", "陳", ["大文"]),
        ("单于", "单", ["于"]),  # two characters: a compound surname needs a given name after it
    ],
)
def test_chinese_names_split_into_family_and_given(name: str, family: str, given: list[str]) -> None:
    patient = patient_from_facts(facts(name=name), SYSTEMS, patient_id="p-1")
    assert patient["name"] == [{"use": "official", "text": name, "family": family, "given": given}]
    assert_valid(patient)


def test_a_non_chinese_name_keeps_only_its_text() -> None:
    patient = patient_from_facts(facts(name="  John   SMITH "), SYSTEMS, patient_id="p-1")
    assert patient["name"] == [{"use": "official", "text": "John SMITH"}]
    assert split_name("阿卜杜·热合曼").family is None  # transliterated names carry a middle dot
    assert_valid(patient)


@pytest.mark.parametrize(
    ("code", "gender"), [("0", "unknown"), ("1", "male"), ("2", "female"), ("9", "other")]
)
def test_gender_from_the_gb_code_keeps_the_gb_code(code: str, gender: str) -> None:
    patient = patient_from_facts(facts(sex=code), SYSTEMS, patient_id="p-1")
    assert patient["gender"] == gender
    assert patient["extension"][0]["valueCoding"]["code"] == code
    assert_valid(patient)


def test_minimal_facts_give_a_minimal_valid_patient() -> None:
    minimal = PersonFacts(
        source="fhir", identifiers=(identifier_of(SYSTEMS, IdentifierKey.NHSA_PSN_NO, "N1"),)
    )
    patient = patient_from_facts(minimal, SYSTEMS, patient_id="p-2")
    assert set(patient) == {"resourceType", "id", "active", "identifier"}
    assert patient["identifier"][0]["type"]["coding"][0]["code"] == "MB"
    assert_valid(patient)


def test_ethnicity_without_a_letter_code_has_one_coding() -> None:
    patient = patient_from_facts(facts(ethnicity="98"), SYSTEMS, patient_id="p-1")
    concept = patient["extension"][1]["valueCodeableConcept"]
    assert [c["code"] for c in concept["coding"]] == ["98"]
    assert_valid(patient)


def test_other_certificates_get_their_own_system_and_type() -> None:
    passport = patient_from_facts(
        facts(certificate_type="03", id_number="e12345678", identifiers=()), SYSTEMS, patient_id="p-1"
    )
    (identifier,) = passport["identifier"]
    assert identifier["system"] == "urn:dualcode:ws364:certificate-type:03"
    assert identifier["value"] == "E12345678"
    assert identifier["type"]["coding"][0]["code"] == "PPN"
    assert identifier["type"]["text"] == "护照"
    officer = patient_from_facts(
        facts(certificate_type="04", id_number="J1", identifiers=()), SYSTEMS, patient_id="p"
    )
    assert officer["identifier"][0]["type"] == {"text": "军官证"}
    assert_valid(passport)
    assert_valid(officer)


def test_hospital_numbers_name_the_hospital_as_assigner() -> None:
    number = identifier_of(SYSTEMS, IdentifierKey.HOSPITAL_PATIENT_NUMBER, "000123", hospital_code="H001")
    patient = patient_from_facts(facts(identifiers=(number,)), SYSTEMS, patient_id="p-1")
    local = patient["identifier"][1]
    assert local["system"] == "urn:dualcode:hospital:H001:patient-number"
    assert local["assigner"] == {"display": "H001"}
    assert local["type"]["coding"][0]["code"] == "PI"
    assert_valid(patient)


def test_merge_adds_new_identifiers_and_leaves_the_input_alone() -> None:
    patient = patient_from_facts(facts(identifiers=()), SYSTEMS, patient_id="p-1")
    before = copy.deepcopy(patient)
    psn = identifier_of(SYSTEMS, IdentifierKey.NHSA_PSN_NO, "37000000000000000001")
    merged, conflicts = merge_facts_into_patient(
        patient, facts(source="nhsa", identifiers=(psn,)), systems=SYSTEMS
    )
    assert conflicts == ()
    assert patient == before
    assert [i["system"] for i in merged["identifier"]] == [ID_SYSTEM, "urn:dualcode:nhsa:psn-no"]
    assert_valid(merged)


def test_merge_changes_nothing_nested_in_the_input_whatever_it_adds() -> None:
    # merge copies only the top level and the identifier list: every step must replace, not mutate.
    patient = patient_from_facts(
        facts(sex="0", ethnicity=None, phone="13800000001", address="滨州市滨城区黄河五路1号"),
        SYSTEMS,
        patient_id="p-1",
    )
    before = copy.deepcopy(patient)
    card = identifier_of(SYSTEMS, IdentifierKey.SSC_CARD_NUMBER, "X00000019")
    richer = facts(
        identifiers=(card,), sex="1", ethnicity="02", phone="13900000002", address="滨州市滨城区渤海七路2号"
    )
    merged, _ = merge_facts_into_patient(patient, richer, systems=SYSTEMS)
    assert patient == before
    assert merged != patient and len(merged["telecom"]) == 2 and len(merged["address"]) == 2


def test_merge_never_overwrites_a_conflicting_name_or_birth_date() -> None:
    patient = patient_from_facts(facts(), SYSTEMS, patient_id="p-1")
    other = facts(source="nhsa", name="欧阳明达", birth_date=date(1990, 1, 2), sex="2", ethnicity="02")
    merged, conflicts = merge_facts_into_patient(patient, other, systems=SYSTEMS)
    assert [c.field for c in conflicts] == ["name", "birthDate", "gender", "ethnicity"]
    assert conflicts[0].existing == "欧阳明远" and conflicts[0].incoming == "欧阳明达"
    assert conflicts[1].existing == "1990-01-01" and conflicts[1].incoming == "1990-01-02"
    assert {c.source for c in conflicts} == {"nhsa"}
    assert merged["name"] == patient["name"] and merged["birthDate"] == "1990-01-01"
    assert merged["gender"] == "male"
    assert "欧阳明达" not in repr(conflicts)  # values stay out of logs


def test_traditional_and_simplified_spellings_are_the_same_name() -> None:
    patient = patient_from_facts(facts(name="陈大文"), SYSTEMS, patient_id="p-1")
    _, conflicts = merge_facts_into_patient(patient, facts(name="陳大文"), systems=SYSTEMS)
    assert conflicts == ()
    assert fold_name("陳 大文") == fold_name("陈大文") == "陈大文"


def test_a_different_single_valued_identifier_is_a_conflict_not_a_second_value() -> None:
    patient = patient_from_facts(facts(), SYSTEMS, patient_id="p-1")
    other_id = id_number("37160219900101125")
    merged, conflicts = merge_facts_into_patient(patient, facts(id_number=other_id), systems=SYSTEMS)
    assert [c.field for c in conflicts] == [f"identifier:{ID_SYSTEM}"]
    assert [i["value"] for i in merged["identifier"] if i["system"] == ID_SYSTEM] == [ID_A]
    # A second SSC card number is normal (cards are reissued): both are kept.
    card = identifier_of(SYSTEMS, IdentifierKey.SSC_CARD_NUMBER, "X00000019")
    card2 = identifier_of(SYSTEMS, IdentifierKey.SSC_CARD_NUMBER, "JA334687X")
    once, _ = merge_facts_into_patient(patient, facts(identifiers=(card,)), systems=SYSTEMS)
    twice, conflicts = merge_facts_into_patient(once, facts(identifiers=(card2,)), systems=SYSTEMS)
    assert conflicts == () and len(twice["identifier"]) == 4


def test_unknown_sex_is_filled_in_and_never_a_conflict() -> None:
    patient = patient_from_facts(facts(sex="0"), SYSTEMS, patient_id="p-1")
    merged, conflicts = merge_facts_into_patient(patient, facts(sex="2"), systems=SYSTEMS)
    assert conflicts == () and merged["gender"] == "female"
    again, conflicts = merge_facts_into_patient(merged, facts(sex="0"), systems=SYSTEMS)
    assert conflicts == () and again["gender"] == "female"


def test_missing_facts_are_filled_in() -> None:
    bare = patient_from_facts(PersonFacts(source="his:H001", id_number=ID_A), SYSTEMS, patient_id="p-1")
    merged, conflicts = merge_facts_into_patient(bare, facts(), systems=SYSTEMS)
    assert conflicts == ()
    assert merged["name"][0]["text"] == "欧阳明远" and merged["birthDate"] == "1990-01-01"
    assert_valid(merged)


def test_a_new_phone_and_address_come_first_and_the_old_ones_stay() -> None:
    patient = patient_from_facts(facts(), SYSTEMS, patient_id="p-1")
    merged, _ = merge_facts_into_patient(
        patient, facts(phone="0543-1234567", address="新地址 2号"), systems=SYSTEMS
    )
    assert merged["telecom"] == [
        {"system": "phone", "value": "0543-1234567", "rank": 1},
        {"system": "phone", "value": "13800000001", "use": "mobile"},
    ]
    assert merged["address"] == [
        {"use": "home", "text": "新地址 2号"},
        {"use": "old", "text": "山东省滨州市滨城区测试路1号"},
    ]
    assert_valid(merged)


def test_person_facts_check_their_codes_and_hide_personal_values() -> None:
    for bad in ({"source": "wechat"}, {"sex": "3"}, {"ethnicity": "60"}, {"certificate_type": "42"}):
        with pytest.raises(ValueError):
            facts(**bad)
    shown = repr(facts())
    assert ID_A not in shown and "欧阳" not in shown and "13800000001" not in shown and EHC not in shown
    assert facts(name="  ").name is None
    with pytest.raises(ValueError):
        FactIdentifier(IdentifierKey.EHC_ID, "urn:dualcode:nhc:ehc-id", " ")
    with pytest.raises(ValueError):
        identifier_of(SYSTEMS, IdentifierKey.HOSPITAL_PATIENT_NUMBER, "1")


def test_person_facts_have_no_place_for_short_lived_tokens() -> None:
    fields = set(PersonFacts.__dataclass_fields__)
    assert not {f for f in fields if "token" in f.lower() or "code" in f.lower()}
    assert not [k for k in IdentifierKey if "token" in k.value]


def test_all_identifiers_put_the_certificate_first_without_repeats() -> None:
    again = identifier_of(SYSTEMS, IdentifierKey.ID_NUMBER, ID_A)
    ehc = identifier_of(SYSTEMS, IdentifierKey.EHC_ID, EHC)
    got = facts(identifiers=(ehc, again)).all_identifiers(SYSTEMS)
    assert [(i.key, i.value) for i in got] == [(IdentifierKey.ID_NUMBER, ID_A), (IdentifierKey.EHC_ID, EHC)]
    no_cert = facts(id_number=None, identifiers=(ehc, again))
    assert no_cert.anchor(SYSTEMS) == again


# --- Coverage --------------------------------------------------------------------------------------

INSUINFO = {
    "insutype": "310",
    "psn_type": "11",
    "psn_insu_stas": "1",
    "balc": 1234.5,
    "insuplc_admdvs": "371602",
    "emp_name": "滨州测试有限公司",
    "psn_insu_date": "2015-07-01 00:00:00",
}

GOLDEN_COVERAGE = {
    "resourceType": "Coverage",
    "status": "active",
    "identifier": [
        {"system": "urn:dualcode:nhsa:psn-no", "value": "PSN0001", "type": {"text": "医保人员编号"}}
    ],
    "type": {
        "coding": [{"system": "urn:dualcode:nhsa:insutype", "code": "310", "display": "职工基本医疗保险"}],
        "text": "职工基本医疗保险",
    },
    "subscriberId": "PSN0001",
    "beneficiary": {"reference": "Patient/p-1"},
    "relationship": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}
        ]
    },
    "payor": [
        {
            "reference": "Organization/nhsa-371602",
            "identifier": {"system": "urn:dualcode:nhsa:insuplc-admdvs", "value": "371602"},
        }
    ],
    "class": [
        {
            "type": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]
            },
            "value": "11",
            "name": "人员类别 11",
        }
    ],
    "policyHolder": {"display": "滨州测试有限公司"},
    "period": {"start": "2015-07-01"},
}


def test_coverage_from_insurance_golden() -> None:
    coverage = coverage_from_insurance("Patient/p-1", INSUINFO, psn_no="PSN0001", systems=SYSTEMS)
    assert coverage == GOLDEN_COVERAGE
    assert "balc" not in str(coverage) and "1234.5" not in str(coverage)
    assert_valid(coverage)


@pytest.mark.parametrize("status", ["2", "4", ""])
def test_insurance_not_in_force_is_a_cancelled_coverage_with_its_end(status: str) -> None:
    item = {**INSUINFO, "psn_insu_stas": status, "paus_insu_date": "20240301"}
    coverage = coverage_from_insurance("Patient/p-1", item, psn_no="PSN0001", systems=SYSTEMS)
    assert coverage["status"] == "cancelled"
    assert coverage["period"] == {"start": "2015-07-01", "end": "2024-03-01"}
    assert_valid(coverage)


def test_resident_insurance_in_a_pool_region_and_sparse_input() -> None:
    item = {"insutype": "390", "psn_insu_stas": "1", "insuplc_admdvs": "379900"}
    coverage = coverage_from_insurance("Patient/p-1", item, psn_no="PSN0002", systems=SYSTEMS)
    assert coverage["type"]["text"] == "城乡居民基本医疗保险"
    assert coverage["payor"][0]["reference"] == "Organization/nhsa-379900"
    assert not {"class", "policyHolder", "period"} & set(coverage)
    assert_valid(coverage)
    unknown = coverage_from_insurance("Patient/p", {**item, "insutype": "999"}, psn_no="P", systems=SYSTEMS)
    assert unknown["type"]["text"] == "insutype 999"


def test_bad_insurance_input_is_refused() -> None:
    for item in ({"insuplc_admdvs": "371602"}, {"insutype": "310"}, {**INSUINFO, "insuplc_admdvs": "37"}):
        with pytest.raises(ValueError):
            coverage_from_insurance("Patient/p-1", item, psn_no="P", systems=SYSTEMS)
    with pytest.raises(ValueError):
        coverage_from_insurance(
            "Patient/p", {**INSUINFO, "psn_insu_date": "July"}, psn_no="P", systems=SYSTEMS
        )


def test_payor_organizations_per_insured_region() -> None:
    binzhou = payor_organization("371602")
    assert binzhou["id"] == "nhsa-371602" and binzhou["name"] == "山东省滨州市滨城区医疗保障局"
    pool = payor_organization("379900")
    assert pool["name"] == "医疗保障统筹区 379900"
    assert_valid(binzhou)
    assert_valid(pool)
