"""One person, every card: $resolve-card against the sandbox SIMULATOR, both as real processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    RunningSandbox,
    RunningService,
    sandbox_env,
    start_sandbox,
    start_service,
)
from tests.r4 import assert_valid_r4

pytestmark = pytest.mark.e2e

ID_SYSTEM = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
HOSPITAL = "H0001"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(tmp_path_factory.mktemp("sandbox") / "sandbox.log", "--people", "40")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def cards_service(
    tmp_path_factory: pytest.TempPathFactory, sandbox: RunningSandbox
) -> Iterator[RunningService]:
    env = {
        **sandbox_env(sandbox),
        "DUALCODE_CARDS_TIMEOUT_S": "1",
        "DUALCODE_CARDS_RETRIES": "0",
        "DUALCODE_CARDS_HOSPITAL_CODE": "H0000",  # scans without an organization come from here
    }
    running = start_service(tmp_path_factory.mktemp("service"), env)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def token(cards_service: RunningService) -> str:
    return cards_service.token("his", name="his-cards")


@pytest.fixture(scope="module")
def admin(cards_service: RunningService) -> str:
    return cards_service.token("admin", name="admin-cards")


def resolve(service: RunningService, token: str, code: str, **params: str) -> httpx.Response:
    parts = [{"name": "code", "valueString": code}]
    for name, value in params.items():
        key = "valueString" if name in ("organization", "name") else "valueCode"
        parts.append({"name": name, key: value})
    return httpx.post(
        f"{service.fhir_base}/Patient/$resolve-card",
        json={"resourceType": "Parameters", "parameter": parts},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        timeout=30,
    )


def out(answer: httpx.Response, name: str) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return [p for p in answer.json()["parameter"] if p["name"] == name]


def patient_of(answer: httpx.Response) -> dict[str, Any]:
    patient: dict[str, Any] = out(answer, "patient")[0]["resource"]
    return patient


def error_code(answer: httpx.Response) -> str:
    code: str = answer.json()["issue"][0]["details"]["coding"][0]["code"]
    return code


def person(sandbox: RunningSandbox, index: int) -> dict[str, Any]:
    return sandbox.people(40)[index]


def patients_with(service: RunningService, token: str, id_number: str) -> int:
    bundle = httpx.get(
        f"{service.fhir_base}/Patient",
        params={"identifier": f"{ID_SYSTEM}|{id_number}"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    total: int = bundle["total"]
    return total


def test_every_card_of_one_person_resolves_to_one_patient(
    cards_service: RunningService, sandbox: RunningSandbox, token: str
) -> None:
    someone = person(sandbox, 0)
    id_number = str(someone["id_number"])
    answers = [
        resolve(cards_service, token, sandbox.issue("essc", id_number), kind="essc", organization=HOSPITAL),
        resolve(cards_service, token, sandbox.issue("ehc", id_number), organization=HOSPITAL),
        resolve(cards_service, token, sandbox.issue("ehc-static", id_number), step="pharmacy"),
        resolve(cards_service, token, sandbox.issue("ssc-reader", id_number), organization=HOSPITAL),
        resolve(cards_service, token, sandbox.issue("nhsa", id_number), kind="nhsa", step="settlement"),
        resolve(cards_service, token, id_number, kind="idcard", name=str(someone["name"])),
    ]
    patients = [patient_of(answer) for answer in answers]
    assert len({p["id"] for p in patients}) == 1
    assert [out(a, "created")[0]["valueBoolean"] for a in answers] == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    final = patients[-1]
    assert_valid_r4(final)
    systems = {i["system"] for i in final["identifier"]}
    assert ID_SYSTEM in systems and len(systems) >= 6  # ID, SSC number + code, EHC id, NHSA psn_no, local no.
    values = {i["value"] for i in final["identifier"]}
    assert str(someone["ehc_id"]) in values and str(someone["ssc_card_number"]) in values
    assert all(not v.startswith("EC") or len(v) != 34 for v in values)  # no ecToken ever lands on Patient
    local = [out(a, "localIdentifier") for a in answers if out(a, "localIdentifier")]
    numbers: dict[str, set[str]] = {}
    for entry in local:
        identifier = entry[0]["valueIdentifier"]
        numbers.setdefault(identifier["system"], set()).add(identifier["value"])
    assert len(numbers) == 2  # H0001 (given) and H0000 (the configured default institution)
    assert all(len(values) == 1 for values in numbers.values())  # stable per hospital
    coverages = out(answers[4], "coverage")
    assert coverages and coverages[0]["resource"]["subscriberId"] == someone["nhsa_psn_no"]
    for coverage in coverages:
        assert_valid_r4(coverage["resource"])
    assert patients_with(cards_service, token, id_number) == 1


def test_coverage_is_searchable_by_patient(
    cards_service: RunningService, sandbox: RunningSandbox, token: str
) -> None:
    someone = person(sandbox, 1)
    answer = resolve(cards_service, token, sandbox.issue("nhsa", str(someone["id_number"])), kind="nhsa")
    patient_id = patient_of(answer)["id"]
    bundle = httpx.get(
        f"{cards_service.fhir_base}/Coverage",
        params={"patient": patient_id},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert_valid_r4(bundle)
    assert [e["resource"]["type"]["coding"][0]["code"] for e in bundle["entry"]] == [someone["insutype"]]


@pytest.mark.parametrize(
    ("prepare", "expected_status", "expected_code"),
    [
        ("unknown-shape", 400, "DC-5101"),
        ("expired", 400, "DC-5102"),
        ("replayed", 409, "DC-5103"),
        ("forged-validity", 400, "DC-5104"),
        ("tampered-id", 400, "DC-5104"),
        ("wrong-check-char", 422, "DC-5110"),
        ("third-generation-without-ssn", 422, "DC-5108"),
        ("suspended", 403, "DC-5105"),
    ],
)
def test_bad_cards_get_a_clear_answer_and_write_nothing(
    cards_service: RunningService,
    sandbox: RunningSandbox,
    token: str,
    prepare: str,
    expected_status: int,
    expected_code: str,
) -> None:
    index = 2 + [
        "unknown-shape", "expired", "replayed", "forged-validity", "tampered-id",
        "wrong-check-char", "third-generation-without-ssn", "suspended",
    ].index(prepare)  # fmt: skip
    someone = person(sandbox, index)
    id_number = str(someone["id_number"])
    params: dict[str, str] = {}
    if prepare == "unknown-shape":
        code = sandbox.issue("essc", id_number)  # opaque: no kind given, none configured
    elif prepare == "expired":
        code = sandbox.issue("ehc", id_number, ttl_s=0.2)
        time.sleep(1.2)
    elif prepare == "replayed":
        code = sandbox.issue("ehc", id_number)
        assert resolve(cards_service, token, code).status_code == 200
    elif prepare == "forged-validity":
        ehc_id, _, validity = sandbox.issue("ehc", id_number).split(":")
        code = f"{ehc_id}:0:{'0' * len(validity)}"
    elif prepare == "tampered-id":
        ehc_id, static, validity = sandbox.issue("ehc", id_number).split(":")
        code = f"{ehc_id[:-1]}{'0' if ehc_id[-1] != '0' else '1'}:{static}:{validity}"
    elif prepare == "wrong-check-char":
        last = id_number[-1]
        code, params = id_number[:-1] + ("1" if last != "1" else "2"), {"kind": "idcard", "name": "测试"}
    elif prepare == "third-generation-without-ssn":
        fields = sandbox.issue("ssc-reader", id_number).split("|")
        fields[1], fields[4] = "", ""  # SSN and name empty: read without PSAM
        code = "|".join(fields)
    else:
        sandbox.control("cards/suspend", {"id_number": id_number, "suspended": True})
        code, params = sandbox.issue("essc", id_number), {"kind": "essc"}
    answer = resolve(cards_service, token, code, **params)
    if prepare != "replayed":
        assert patients_with(cards_service, token, id_number) == 0  # nothing half-written
    assert answer.status_code == expected_status, answer.text
    assert error_code(answer) == expected_code
    assert answer.headers["content-type"].startswith("application/fhir+json")


def test_a_slow_platform_is_a_503_with_retry_after_not_a_hang(
    cards_service: RunningService, sandbox: RunningSandbox, token: str
) -> None:
    someone = person(sandbox, 12)
    code = sandbox.issue("essc", str(someone["id_number"]))
    sandbox.control("faults", {"platform": "essc", "mode": "slow", "delay_s": 3})
    try:
        started = time.monotonic()
        answer = resolve(cards_service, token, code, kind="essc")
        elapsed = time.monotonic() - started
    finally:
        sandbox.control("faults", {"platform": "*", "mode": "ok"})
    assert answer.status_code == 503 and error_code(answer) == "DC-5001"
    assert int(answer.headers["Retry-After"]) >= 1
    assert elapsed < 2.5


def test_pix_match_merge_and_unmerge(
    cards_service: RunningService, sandbox: RunningSandbox, token: str, admin: str
) -> None:
    one, two = person(sandbox, 13), person(sandbox, 14)
    first = patient_of(resolve(cards_service, token, sandbox.issue("ehc-static", str(one["id_number"]))))
    second = patient_of(resolve(cards_service, token, sandbox.issue("ehc-static", str(two["id_number"]))))
    auth = {"Authorization": f"Bearer {token}"}
    pix = httpx.get(
        f"{cards_service.fhir_base}/Patient/$ihe-pix",
        params={"sourceIdentifier": f"{ID_SYSTEM}|{one['id_number']}"},
        headers=auth,
    )
    assert pix.status_code == 200, pix.text
    assert_valid_r4(pix.json())
    target = [p for p in pix.json()["parameter"] if p["name"] == "targetId"]
    assert target[0]["valueReference"]["reference"] == f"Patient/{first['id']}"
    missing = httpx.get(
        f"{cards_service.fhir_base}/Patient/$ihe-pix",
        params={"sourceIdentifier": f"{ID_SYSTEM}|X"},
        headers=auth,
    )
    assert missing.status_code == 404
    probe = {"resourceType": "Patient", "name": [{"text": one["name"]}], "birthDate": one["birth_date"],
             "gender": "male" if one["sex"] == "1" else "female"}  # fmt: skip
    matched = httpx.post(
        f"{cards_service.fhir_base}/Patient/$match",
        json={"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": probe}]},
        headers={**auth, "Content-Type": "application/fhir+json"},
    )
    assert matched.status_code == 200, matched.text
    bundle = matched.json()
    assert_valid_r4(bundle)
    assert bundle["entry"][0]["resource"]["id"] == first["id"]
    assert bundle["entry"][0]["search"]["extension"][0]["valueCode"] in {"certain", "probable"}
    merge_body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "source", "valueReference": {"reference": f"Patient/{second['id']}"}},
            {"name": "target", "valueReference": {"reference": f"Patient/{first['id']}"}},
        ],
    }
    headers = {"Content-Type": "application/fhir+json"}
    refused = httpx.post(
        f"{cards_service.fhir_base}/Patient/$merge", json=merge_body, headers={**auth, **headers}
    )
    assert refused.status_code == 403
    merged = httpx.post(
        f"{cards_service.fhir_base}/Patient/$merge",
        json=merge_body,
        headers={"Authorization": f"Bearer {admin}", **headers},
    )
    assert merged.status_code == 200, merged.text
    loser = httpx.get(f"{cards_service.fhir_base}/Patient/{second['id']}", headers=auth).json()
    assert loser["active"] is False and loser["link"][0]["type"] == "replaced-by"
    provenance = merged.json()["parameter"][0]["valueReference"]
    undone = httpx.post(
        f"{cards_service.fhir_base}/Patient/$unmerge",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "provenance", "valueReference": provenance}],
        },
        headers={"Authorization": f"Bearer {admin}", **headers},
    )
    assert undone.status_code == 200, undone.text
    restored = httpx.get(f"{cards_service.fhir_base}/Patient/{second['id']}", headers=auth).json()
    assert restored["active"] is True


def test_an_ordinary_r4_patient_is_accepted_and_searchable_by_name(
    cards_service: RunningService, token: str
) -> None:
    body = {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Synthetic</div>'},
        "identifier": [{"system": "http://example.org/mrn", "value": "MRN-0001"}],
        "name": [{"family": "陳", "given": ["測試"]}],
        "gender": "female",
        "birthDate": "1990-02-03",
        "extension": [{"url": "http://example.org/ext", "valueString": "kept"}],
    }
    created = httpx.post(
        f"{cards_service.fhir_base}/Patient",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )
    assert created.status_code == 201, created.text
    stored = created.json()
    assert any(e.get("valueString") == "kept" for e in stored.get("extension", []))
    for params in (
        {"name": "陈测试"},
        {"name": "陳"},
        {"name": "chenceshi"},
        {"birthdate": "1990-02-03", "gender": "female"},
    ):
        found = httpx.get(
            f"{cards_service.fhir_base}/Patient", params=params, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert stored["id"] in [e["resource"]["id"] for e in found.get("entry", [])], params
