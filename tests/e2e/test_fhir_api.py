"""The FHIR API end to end: the service as a real process, driven by httpx and fhirpy."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from fhirpy import SyncFHIRClient

from tests.e2e.harness import RunningService
from tests.r4 import assert_valid_r4

pytestmark = pytest.mark.e2e

ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"


def synthetic_patient(id_number: str = "11010519491231002X") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": ID_SYSTEM, "value": id_number}],
        "name": [{"text": "测试甲", "family": "测", "given": ["试甲"]}],
        "gender": "female",
        "birthDate": "1949-12-31",
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_outcome(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["details"]["coding"][0]["code"] == code
    assert_valid_r4(body)
    return body


@pytest.fixture(scope="module")
def created(service: RunningService, his_token: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{service.fhir_base}/Patient",
        json=synthetic_patient(),
        headers={**bearer(his_token), "Content-Type": "application/fhir+json"},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_metadata_is_an_r4_capability_statement_listing_what_is_implemented(service: RunningService) -> None:
    answer = httpx.get(f"{service.fhir_base}/metadata", headers={"Accept": "application/fhir+json"})
    assert answer.status_code == 200
    statement = answer.json()
    assert statement["fhirVersion"] == "4.0.1"
    assert_valid_r4(statement)
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert {i["code"] for i in patient["interaction"]} == {
        "read",
        "vread",
        "search-type",
        "history-instance",
        "create",
        "update",
    }
    assert [p["name"] for p in patient["searchParam"]] == ["identifier", "name", "birthdate", "gender"]
    assert [o["name"] for o in patient["operation"]] == [
        "resolve-card",
        "ihe-pix",
        "match",
        "merge",
        "unmerge",
    ]
    for operation in patient["operation"]:
        definition_id = operation["definition"].rsplit("/", 1)[1]
        definition = httpx.get(f"{service.fhir_base}/OperationDefinition/{definition_id}").json()
        assert definition["code"] == operation["name"]
        assert_valid_r4(definition)
    coverage = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Coverage")
    assert [p["name"] for p in coverage["searchParam"]] == ["patient", "identifier", "type"]


def test_format_parameter_and_unacceptable_accept(service: RunningService) -> None:
    assert httpx.get(f"{service.fhir_base}/metadata?_format=json").status_code == 200
    answer = httpx.get(f"{service.fhir_base}/metadata", headers={"Accept": "application/fhir+xml"})
    assert_outcome(answer, 406, "DC-1008")
    assert_outcome(httpx.get(f"{service.fhir_base}/metadata?_format=xml"), 406, "DC-1008")


def test_create_read_vread_search_with_etag(
    service: RunningService, his_token: str, created: dict[str, Any]
) -> None:
    patient_id = created["id"]
    assert created["meta"]["versionId"] == "1"
    assert_valid_r4(created)
    read = httpx.get(f"{service.fhir_base}/Patient/{patient_id}", headers=bearer(his_token))
    assert read.status_code == 200
    assert read.headers["ETag"] == 'W/"1"'
    assert "Last-Modified" in read.headers
    assert read.json()["name"][0]["text"] == "测试甲"
    vread = httpx.get(f"{service.fhir_base}/Patient/{patient_id}/_history/1", headers=bearer(his_token))
    assert vread.status_code == 200 and vread.json()["id"] == patient_id
    for query in (f"{ID_SYSTEM}|11010519491231002X", "11010519491231002X"):
        found = httpx.get(
            f"{service.fhir_base}/Patient", params={"identifier": query}, headers=bearer(his_token)
        )
        bundle = found.json()
        assert bundle["type"] == "searchset"
        assert [e["resource"]["id"] for e in bundle["entry"]] == [patient_id]
        assert_valid_r4(bundle)
    none = httpx.get(
        f"{service.fhir_base}/Patient",
        params={"identifier": f"{ID_SYSTEM}|440524188001010014"},
        headers=bearer(his_token),
    ).json()
    assert none["total"] == 0 and "entry" not in none


def test_update_with_if_match_and_stale_version(service: RunningService, his_token: str) -> None:
    headers = {**bearer(his_token), "Content-Type": "application/fhir+json"}
    first = httpx.post(
        f"{service.fhir_base}/Patient", json=synthetic_patient("440524188001010014"), headers=headers
    )
    patient = first.json()
    patient["telecom"] = [{"system": "phone", "value": "13800000000"}]
    ok = httpx.put(
        f"{service.fhir_base}/Patient/{patient['id']}", json=patient, headers={**headers, "If-Match": 'W/"1"'}
    )
    assert ok.status_code == 200 and ok.json()["meta"]["versionId"] == "2"
    stale = httpx.put(
        f"{service.fhir_base}/Patient/{patient['id']}", json=patient, headers={**headers, "If-Match": 'W/"1"'}
    )
    assert_outcome(stale, 412, "DC-3003")
    history = httpx.get(
        f"{service.fhir_base}/Patient/{patient['id']}/_history", headers=bearer(his_token)
    ).json()
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']
    assert_valid_r4(history)


def test_conditional_create_returns_the_existing_patient(
    service: RunningService, his_token: str, created: dict[str, Any]
) -> None:
    again = httpx.post(
        f"{service.fhir_base}/Patient",
        json=synthetic_patient(),
        headers={
            **bearer(his_token),
            "Content-Type": "application/fhir+json",
            "If-None-Exist": f"identifier={ID_SYSTEM}|11010519491231002X",
        },
    )
    assert again.status_code == 200 and again.json()["id"] == created["id"]


def test_fhirpy_client_reads_and_searches(
    service: RunningService, pharmacy_token: str, created: dict[str, Any]
) -> None:
    client = SyncFHIRClient(service.fhir_base, authorization=f"Bearer {pharmacy_token}")
    found = client.resources("Patient").search(identifier=f"{ID_SYSTEM}|11010519491231002X").fetch()
    assert [p.id for p in found] == [created["id"]]
    patient = client.reference("Patient", created["id"]).to_resource()
    assert patient["birthDate"] == "1949-12-31"


def test_no_token_wrong_scope_and_bad_tokens(
    service: RunningService, sampling_token: str, created: dict[str, Any]
) -> None:
    url = f"{service.fhir_base}/Patient/{created['id']}"
    missing = httpx.get(url)
    assert_outcome(missing, 401, "DC-2001")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    # sampling may read patients but never write them
    write = httpx.put(
        url, json={**created}, headers={**bearer(sampling_token), "Content-Type": "application/fhir+json"}
    )
    assert_outcome(write, 403, "DC-2003")
    forged = jwt.encode(
        {"sub": "x", "scope": "system/*.cruds", "exp": time.time() + 60, "iss": "dualcode"},
        "a-forged-key-of-at-least-32-bytes!!",
        algorithm="HS256",
        headers={"typ": "at+jwt"},
    )
    assert_outcome(httpx.get(url, headers=bearer(forged)), 401, "DC-2002")
    assert_outcome(httpx.get(url, headers=bearer("garbage")), 401, "DC-2002")


def test_expired_token_is_refused(
    service: RunningService, sampling_token: str, created: dict[str, Any]
) -> None:
    header, payload, _ = sampling_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 3600
    tampered = ".".join(
        [header, base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="), _]
    )
    answer = httpx.get(f"{service.fhir_base}/Patient/{created['id']}", headers=bearer(tampered))
    assert_outcome(answer, 401, "DC-2002")


def test_token_endpoint_basic_post_and_wrong_secret(service: RunningService) -> None:
    client_id, secret = service.add_client("e2e-post", "pharmacy")
    posted = httpx.post(
        f"{service.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert posted.status_code == 200
    body = posted.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert "system/Patient.rs" in body["scope"].split()
    assert posted.headers["Cache-Control"] == "no-store"
    wrong = httpx.post(
        f"{service.base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, "nope")
    )
    unknown = httpx.post(
        f"{service.base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", secret)
    )
    wrong_body, unknown_body = assert_outcome(wrong, 401, "DC-2004"), assert_outcome(unknown, 401, "DC-2004")
    # No hint which part was wrong: the two answers are identical but for the request id.
    wrong_body.pop("id"), unknown_body.pop("id")
    assert wrong_body == unknown_body
    grant = httpx.post(
        f"{service.base_url}/oauth/token", data={"grant_type": "password"}, auth=(client_id, secret)
    )
    assert_outcome(grant, 400, "DC-2005")


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "code"),
    [
        ("GET", "/Unicorn/1", None, None, 404, "DC-1006"),
        ("GET", "/Unicorn", None, None, 404, "DC-1006"),
        ("GET", "/Patient/bad$id", None, None, 400, "DC-1005"),
        ("GET", "/Patient/does-not-exist", None, None, 404, "DC-3001"),
        ("GET", "/Patient?nickname=x", None, None, 400, "DC-1007"),
        ("POST", "/Patient", b"{not json", "application/fhir+json", 400, "DC-1001"),
        ("POST", "/Patient", b"<Patient/>", "application/fhir+xml", 415, "DC-1002"),
        (
            "POST",
            "/Patient",
            b'{"resourceType":"Patient","birthDate":"1990-13-45"}',
            "application/fhir+json",
            422,
            "DC-1004",
        ),
        ("POST", "/Patient", b'{"resourceType":"Observation"}', "application/fhir+json", 422, "DC-1004"),
        ("POST", "/Patient", b"[" * 70000, "application/fhir+json", 413, "DC-1003"),
        ("DELETE", "/Patient/1", None, None, 405, "DC-1010"),
    ],
)
def test_bad_input_gets_an_operation_outcome(
    service: RunningService,
    admin_token: str,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    headers = bearer(admin_token)
    if content_type:
        headers["Content-Type"] = content_type
    answer = httpx.request(method, f"{service.fhir_base}{path}", content=body, headers=headers)
    outcome = assert_outcome(answer, status, code)
    if code == "DC-1004" and b"birthDate" in (body or b""):
        assert outcome["issue"][0]["expression"] == ["Patient.birthDate"]


def test_unknown_route_is_an_operation_outcome(service: RunningService) -> None:
    assert_outcome(httpx.get(f"{service.base_url}/nowhere"), 404, "DC-1011")


def test_every_access_is_audited_and_readable_by_admin_only(
    service: RunningService, admin_token: str, his_token: str, created: dict[str, Any]
) -> None:
    httpx.get(f"{service.fhir_base}/Patient/{created['id']}", headers=bearer(his_token))
    events = httpx.get(
        f"{service.fhir_base}/AuditEvent", params={"patient": created["id"]}, headers=bearer(admin_token)
    )
    assert events.status_code == 200
    bundle = events.json()
    assert_valid_r4(bundle)
    operations = [e["resource"] for e in bundle["entry"]]
    assert any(
        event["action"] == "R"
        and event["outcome"] == "0"
        and any(f"Patient/{created['id']}" == ent.get("what", {}).get("reference") for ent in event["entity"])
        for event in operations
    )
    refused = httpx.get(
        f"{service.fhir_base}/AuditEvent", params={"patient": created["id"]}, headers=bearer(his_token)
    )
    assert_outcome(refused, 403, "DC-2003")


def test_health_readiness_and_metrics(service: RunningService) -> None:
    assert httpx.get(f"{service.base_url}/healthz").json() == {"status": "up"}
    ready = httpx.get(f"{service.base_url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "cache": "ok"}
    metrics = httpx.get(f"{service.base_url}/metrics").text
    assert "dualcode_http_requests_total" in metrics
    assert "dualcode_http_request_duration_seconds_bucket" in metrics
