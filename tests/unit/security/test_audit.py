from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from adapter.security.audit import audit_event
from adapter.storage.records import AuditRecord
from tests.r4 import assert_valid_r4

WHEN = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


def record(**changes: Any) -> AuditRecord:
    base: dict[str, Any] = {
        "id": "5f0c1a52-9a43-4c1e-8a86-0b1c2d3e4f50",
        "recorded_at": WHEN,
        "agent": "dc-0123456789abcdef01234567",
        "action": "R",
        "operation": "read Patient",
        "outcome": "0",
        "patient_id": "pat-1",
        "resource": "Patient/pat-1/_history/2",
        "source_ip": "192.0.2.10",
        "request_id": "req-1",
    }
    return AuditRecord(**{**base, **changes})


def valid(event: dict[str, Any]) -> AuditEvent:
    assert_valid_r4(event)  # plain R4 (fhirclient 4.0.1 models, strict)
    return AuditEvent.model_validate(event)  # R4B, never the default R5 classes


def test_a_rest_read_becomes_a_valid_r4_audit_event() -> None:
    event = audit_event(record())
    parsed = valid(event)
    assert parsed.id == "5f0c1a52-9a43-4c1e-8a86-0b1c2d3e4f50"
    assert event["type"] == {
        "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
        "code": "rest",
        "display": "RESTful Operation",
    }
    assert event["subtype"][0]["system"] == "http://hl7.org/fhir/restful-interaction"
    assert event["subtype"][0]["code"] == "read"
    assert event["action"] == "R" and event["outcome"] == "0"
    assert event["recorded"] == "2024-05-06T07:08:09.123+00:00"
    assert "outcomeDesc" not in event
    (agent,) = event["agent"]
    assert agent["who"]["identifier"]["value"] == "dc-0123456789abcdef01234567"
    assert agent["requestor"] is True
    assert agent["network"] == {"address": "192.0.2.10", "type": "2"}
    assert event["source"]["observer"] == {"display": "dualcode"}
    references = [e["what"].get("reference") for e in event["entity"]]
    assert references[:2] == ["Patient/pat-1", "Patient/pat-1/_history/2"]
    assert event["entity"][2]["what"]["identifier"]["value"] == "req-1"


@pytest.mark.parametrize(
    ("operation", "code"),
    [("search Patient", "search-type"), ("vread Patient", "vread"), ("history Patient", "history-instance"),
     ("create Coverage", "create"), ("update Patient", "update")],
)  # fmt: skip
def test_rest_interactions_become_subtypes(operation: str, code: str) -> None:
    event = audit_event(record(operation=operation))
    valid(event)
    assert event["subtype"][0]["code"] == code


def test_a_token_request_is_a_dicom_user_authentication() -> None:
    event = audit_event(record(operation="oauth token", action="E", patient_id=None, resource=None))
    valid(event)
    assert event["type"]["system"] == "http://dicom.nema.org/resources/ontology/DCM"
    assert event["type"]["code"] == "110114"
    assert [e["what"] for e in event["entity"]] == [{"identifier": {"value": "req-1"}}]


def test_other_patient_record_work_is_dicom_110110() -> None:
    event = audit_event(record(operation="hl7 ADT^A04", action="C", agent="mllp:HIS01", source_ip=None))
    valid(event)
    assert event["type"]["code"] == "110110" and event["type"]["display"] == "Patient Record"
    assert "subtype" not in event
    who = event["agent"][0]["who"]["identifier"]
    assert who == {"system": "urn:dualcode:hl7-sender", "value": "HIS01"}
    assert "network" not in event["agent"][0]


def test_a_failure_carries_its_outcome_and_detail() -> None:
    event = audit_event(record(outcome="4", detail={"error": "DC-2003", "reason": "insufficient scope"}))
    valid(event)
    assert event["outcome"] == "4"
    assert event["outcomeDesc"] == "insufficient scope"
    assert {"type": "error", "valueString": "DC-2003"} in event["entity"][0]["detail"]


def test_a_bare_record_is_still_valid() -> None:
    bare = record(patient_id=None, resource=None, request_id=None, source_ip=None, outcome="8",
                  detail={"error": "DC-9000"}, agent="anonymous", action="E",
                  operation="authenticate GET /fhir/Patient")  # fmt: skip
    event = audit_event(bare)
    valid(event)
    assert event["entity"] == [{"detail": [{"type": "error", "valueString": "DC-9000"}]}]


def test_recorded_is_rendered_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    event = audit_event(record(recorded_at=datetime(2024, 5, 6, 15, 8, 9, tzinfo=beijing)))
    assert event["recorded"] == "2024-05-06T07:08:09.000+00:00"


def test_a_naive_timestamp_is_a_bug() -> None:
    with pytest.raises(ValueError, match="timezone"):
        audit_event(record(recorded_at=datetime(2024, 5, 6, 7, 8, 9)))


def test_a_failed_bearer_authentication_is_a_dicom_user_authentication() -> None:
    event = audit_event(
        record(operation="authenticate GET /fhir/Patient", action="E", outcome="4", patient_id=None,
               resource=None, agent="anonymous", detail={"error": "DC-2002"})
    )  # fmt: skip
    valid(event)
    assert event["type"]["code"] == "110114" and event["outcome"] == "4"


def test_a_search_without_a_patient_names_only_the_resource_type() -> None:
    event = audit_event(record(operation="search-type Patient", patient_id=None, resource="Patient"))
    valid(event)
    assert event["entity"][0]["what"] == {"type": "Patient"}
