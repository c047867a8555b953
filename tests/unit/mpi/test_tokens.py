"""The tokens a Patient is indexed under."""

from __future__ import annotations

from adapter.mpi import BLOCK_PARAM, name_search_value, patient_index_tokens
from adapter.mpi.tokens import GENDER_SYSTEM
from adapter.storage import SearchToken
from mappings.person import patient_from_facts
from tests.unit.mpi.people import EHC_SYSTEM, ID_SYSTEM, SYSTEMS, ehc_id, id_number, person


def test_patient_tokens_cover_identifiers_name_pinyin_birthdate_gender_and_blocks() -> None:
    body = patient_from_facts(person(1, name="單麗", phone="13800000001"), SYSTEMS, patient_id="p-1")
    tokens = patient_index_tokens(body)
    assert tokens[:2] == [
        SearchToken("identifier", ID_SYSTEM, id_number(1)),
        SearchToken("identifier", EHC_SYSTEM, ehc_id(1)),
    ]
    names = {t.value for t in tokens if t.param == "name"}
    assert names == {"单丽", "单", "丽", "danli", "shanli", "chanli"}
    assert SearchToken("birthdate", None, "1990-01-01") in tokens
    assert SearchToken("gender", GENDER_SYSTEM, "male") in tokens
    blocks = {t.value for t in tokens if t.param == BLOCK_PARAM}
    assert blocks == {
        "bs:1990-01-01:1",
        "py:danli:1990",
        "py:shanli:1990",
        "py:chanli:1990",
        "ph:13800000001",
    }
    assert len(tokens) == len(set(tokens))


def test_a_bare_patient_from_an_ordinary_fhir_client() -> None:
    body = {"resourceType": "Patient", "name": [{"family": "Smith", "given": ["Ann"]}], "gender": "female"}
    tokens = patient_index_tokens(body)
    assert SearchToken("name", None, "smithann") in tokens
    assert not [t for t in tokens if t.param == BLOCK_PARAM and t.value.startswith("bs:")]
    assert patient_index_tokens({"resourceType": "Patient"}) == []


def test_name_search_values_hit_the_name_tokens() -> None:
    assert name_search_value("陳 大文") == "陈大文"
    assert name_search_value("Zhang Wei") == "zhangwei"
