from __future__ import annotations

import pytest

from adapter.errors import InvalidId, InvalidResource, InvalidSearch, UnknownResourceType
from adapter.fhir.search_params import criteria_for, index_tokens
from adapter.fhir.validation import check_id, validate_resource
from adapter.storage.records import SearchToken


def test_an_ordinary_r4_patient_is_accepted_and_canonicalised() -> None:
    body = validate_resource(
        {
            "resourceType": "Patient",
            "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
            "extension": [{"url": "http://example.org/x", "valueString": "y"}],
            "birthDate": "1990-01-02",
        }
    )
    assert body["birthDate"] == "1990-01-02"


@pytest.mark.parametrize(
    ("body", "element"),
    [
        ({"resourceType": "Patient", "birthDate": "1990-13-45"}, "Patient.birthDate"),
        ({"resourceType": "Patient", "name": [{"family": 1}]}, "Patient.name[0].family"),
        ({"resourceType": "Patient", "nickname": "x"}, "Patient.nickname"),
    ],
)
def test_invalid_resources_name_the_element(body: dict[str, object], element: str) -> None:
    with pytest.raises(InvalidResource) as caught:
        validate_resource(body)
    assert caught.value.expression == (element,)


def test_type_mismatch_unknown_type_and_not_an_object() -> None:
    with pytest.raises(InvalidResource):
        validate_resource({"resourceType": "Observation", "status": "final"}, expected_type="Patient")
    with pytest.raises(UnknownResourceType):
        validate_resource({"resourceType": "Unicorn"})
    with pytest.raises(InvalidResource):
        validate_resource([1, 2])


@pytest.mark.parametrize("bad", ["", "a" * 65, "bad$id", "a b", "é"])
def test_invalid_ids(bad: str) -> None:
    with pytest.raises(InvalidId):
        check_id(bad)


def test_identifier_tokens_and_criteria() -> None:
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": "s1", "value": "v1"}, {"value": "v2"}, {"system": "s3"}],
    }
    assert index_tokens(body) == [
        SearchToken("identifier", "s1", "v1"),
        SearchToken("identifier", None, "v2"),
    ]
    assert criteria_for("Patient", [("identifier", "s1|v1"), ("_count", "5")]) == [
        SearchToken("identifier", "s1", "v1")
    ]
    assert criteria_for("Patient", [("identifier", "v1")]) == [SearchToken("identifier", None, "v1")]
    query = [("name", "陳小明"), ("gender", "female"), ("birthdate", "1949-12-31")]
    assert criteria_for("Patient", query) == [
        SearchToken("name", None, "陈小明"),  # traditional folded to simplified, as the index stores it
        SearchToken("gender", None, "female"),
        SearchToken("birthdate", None, "1949-12-31"),
    ]
    assert criteria_for("Coverage", [("patient", "abc")]) == [SearchToken("patient", None, "Patient/abc")]
    for bad in ([("nickname", "x")], [("identifier", "")], [("identifier", "s|")], [("identifier", "a,b")]):
        with pytest.raises(InvalidSearch):
            criteria_for("Patient", bad)
