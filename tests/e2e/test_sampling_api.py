"""Sampling point API end to end: `dualcode serve` and the card-platform SIMULATOR as processes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.harness import RunningSandbox, RunningService, sandbox_env, start_sandbox, start_service

pytestmark = pytest.mark.e2e
POINT = "CYD0001"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(
        tmp_path_factory.mktemp("sandbox") / "sandbox.log", "--people", "80", "--his-mllp-port", "-1"
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sandbox: RunningSandbox) -> Iterator[RunningService]:
    env = {**sandbox_env(sandbox), "DUALCODE_CARDS_TIMEOUT_S": "2", "DUALCODE_CARDS_RETRIES": "0"}
    running = start_service(tmp_path_factory.mktemp("service"), env)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def token(service: RunningService) -> str:
    return service.token("sampling", name="sampling-point")


@pytest.fixture(scope="module")
def people(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    return sandbox.people(80)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(
    service: RunningService, token: str, code: str, tube: str, pool_size: int = 10, **extra: str
) -> httpx.Response:
    body = {"code": code, "tube": tube, "point": POINT, "pool_size": pool_size, **extra}
    return httpx.post(
        f"{service.base_url}/sampling/registrations", json=body, headers=bearer(token), timeout=30
    )


def error_code(answer: httpx.Response) -> str:
    code: str = answer.json()["issue"][0]["details"]["coding"][0]["code"]
    return code


def test_a_tube_fills_with_ten_people_then_closes(
    service: RunningService, sandbox: RunningSandbox, token: str, people: list[dict[str, Any]]
) -> None:
    kinds = ["ehc", "essc", "ehc-static", "ssc-reader", "nhsa"]
    answers = []
    for n, someone in enumerate(people[:10]):
        kind = kinds[n % len(kinds)]
        extra = {"kind": kind} if kind in ("essc", "nhsa") else {}
        answers.append(
            register(service, token, sandbox.issue(kind, str(someone["id_number"])), "TUBE10001", **extra)
        )
    assert [a.status_code for a in answers] == [201] * 10, answers[-1].text
    bodies = [a.json() for a in answers]
    assert [b["position"] for b in bodies] == list(range(1, 11))
    assert [b["tube_status"] for b in bodies] == ["open"] * 9 + ["full"]
    assert bodies[0]["name_masked"] == str(people[0]["name"])[0] + "*" * (len(str(people[0]["name"])) - 1)
    again = register(service, token, sandbox.issue("ehc", str(people[3]["id_number"])), "TUBE10001")
    assert again.status_code == 200 and again.json()["registration"] == bodies[3]["registration"]
    full = register(service, token, sandbox.issue("ehc", str(people[10]["id_number"])), "TUBE10001")
    assert full.status_code == 409 and error_code(full) == "DC-6002"
    assert "full" in full.json()["issue"][0]["details"]["text"]
    closed = httpx.post(f"{service.base_url}/sampling/tubes/TUBE10001/close", headers=bearer(token))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    view = httpx.get(f"{service.base_url}/sampling/tubes/TUBE10001", headers=bearer(token))
    assert view.status_code == 200 and len(view.json()["members"]) == 10
    for someone in people[:10]:
        assert str(someone["name"]) not in view.text and str(someone["id_number"]) not in view.text
    late = register(service, token, sandbox.issue("ehc", str(people[11]["id_number"])), "TUBE10001")
    assert late.status_code == 409 and error_code(late) == "DC-6003"


def test_typed_id_number_with_name_and_bad_input(
    service: RunningService, sandbox: RunningSandbox, token: str, people: list[dict[str, Any]]
) -> None:
    someone = people[20]
    typed = register(
        service, token, str(someone["id_number"]), "TUBE20001", 5, kind="idcard", name=str(someone["name"])
    )
    assert typed.status_code == 201, typed.text
    expired_code = sandbox.issue("ehc", str(people[21]["id_number"]), ttl_s=0.2)
    time.sleep(1.2)
    expired = register(service, token, expired_code, "TUBE20001", 5)
    assert expired.status_code == 400 and error_code(expired) == "DC-5102"
    unknown = register(service, token, "not-a-code-at-all", "TUBE20001", 5)
    assert unknown.status_code == 400 and error_code(unknown) == "DC-5101"
    bad_tube = register(service, token, sandbox.issue("ehc", str(people[22]["id_number"])), "T-1", 5)
    assert bad_tube.status_code == 400 and error_code(bad_tube) == "DC-6001"
    other_size = register(service, token, sandbox.issue("ehc", str(people[22]["id_number"])), "TUBE20001", 10)
    assert other_size.status_code == 409 and error_code(other_size) == "DC-6004"
    pharmacy = service.token("pharmacy", name="pharmacy-not-sampling")
    refused = register(service, pharmacy, sandbox.issue("ehc", str(people[22]["id_number"])), "TUBE20001", 5)
    assert refused.status_code == 403 and error_code(refused) == "DC-2003"
    body = {"code": sandbox.issue("ehc", str(people[22]["id_number"])), "tube": "TUBE20001", "pool_size": 5}
    url = f"{service.base_url}/sampling/registrations"
    anonymous = httpx.post(url, json={**body, "point": POINT}, timeout=30)
    assert anonymous.status_code == 401 and error_code(anonymous) == "DC-2001"
    forged = httpx.post(url, json={**body, "point": POINT}, headers=bearer("not.a.token"), timeout=30)
    assert forged.status_code == 401 and error_code(forged) == "DC-2002"
    view = httpx.get(f"{service.base_url}/sampling/tubes/TUBE20001", headers=bearer(token)).json()
    assert view["filled"] == 1  # nothing of the refused scans landed


def test_concurrent_scans_into_one_tube(
    service: RunningService, sandbox: RunningSandbox, token: str, people: list[dict[str, Any]]
) -> None:
    codes = [sandbox.issue("ehc", str(p["id_number"])) for p in people[30:50]]
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda code: register(service, token, code, "TUBE30001", 20), codes))
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers if a.status_code != 201]
    assert sorted(a.json()["position"] for a in answers) == list(range(1, 21))


def test_offline_batch_with_a_bad_line_uploaded_twice(
    service: RunningService, sandbox: RunningSandbox, token: str, people: list[dict[str, Any]]
) -> None:
    lines: list[dict[str, Any]] = [
        {
            "client_ref": f"offline-{n}",
            "scanned_at": f"2026-11-29T08:00:{n:02d}+08:00",
            "code": sandbox.issue("ehc-static", str(someone["id_number"])),
            "tube": "TUBE40001",
            "point": POINT,
            "pool_size": 5,
        }
        for n, someone in enumerate(people[60:64])
    ]
    lines.insert(2, {**lines[0], "client_ref": "offline-bad", "tube": "bad tube"})
    body = "\n".join(json.dumps(line) for line in reversed(lines)) + "\n"
    headers = {**bearer(token), "Content-Type": "application/x-ndjson"}
    url = f"{service.base_url}/sampling/registrations:batch"
    first = httpx.post(url, content=body, headers=headers, timeout=60)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["created"], answer["existing"], answer["rejected"]) == (4, 0, 1)
    positions = {a["client_ref"]: a.get("position") for a in answer["lines"]}
    assert [positions[f"offline-{n}"] for n in range(4)] == [1, 2, 3, 4]  # scan-time order
    second = httpx.post(url, content=body, headers=headers, timeout=60).json()
    assert (second["created"], second["existing"], second["rejected"]) == (0, 4, 1)
    view = httpx.get(f"{service.base_url}/sampling/tubes/TUBE40001", headers=bearer(token)).json()
    assert view["filled"] == 4


def test_registrations_are_audited(service: RunningService, token: str) -> None:
    admin = service.token("admin", name="sampling-admin")
    view = httpx.get(f"{service.base_url}/sampling/tubes/TUBE20001", headers=bearer(token)).json()
    patient = view["members"][0]["patient"].removeprefix("Patient/")
    events = httpx.get(
        f"{service.fhir_base}/AuditEvent", params={"patient": patient}, headers=bearer(admin)
    ).json()
    details = json.dumps(events, ensure_ascii=False)
    assert "TUBE20001" in details


def test_lab_hand_off_result_and_recall(service: RunningService, token: str) -> None:
    closed = httpx.get(
        f"{service.base_url}/sampling/tubes", params={"status": "closed"}, headers=bearer(token)
    )
    assert closed.status_code == 200 and "TUBE10001" in [t["tube"] for t in closed.json()["tubes"]]
    oru = (
        "MSH|^~\\&|LAB|L1|DUALCODE|CYD0001|20261129120000||ORU^R01^ORU_R01|R1|P|2.5.1\r"
        "OBR|1|||94500-6^SARS-CoV-2 RNA^LN\rOBX|1|CWE|94500-6^SARS-CoV-2 RNA^LN||阳性||||||F\r"
        "SPM|1|TUBE10001^DUALCODE\r"
    )
    headers = {**bearer(token), "Content-Type": "x-application/hl7-v2+er7"}
    result = httpx.post(f"{service.base_url}/sampling/results", content=oru.encode(), headers=headers)
    assert result.status_code == 200, result.text
    assert result.json()["result"] == "positive"
    still_open = oru.replace("TUBE10001", "TUBE20001")
    refused = httpx.post(f"{service.base_url}/sampling/results", content=still_open.encode(), headers=headers)
    assert refused.status_code == 409 and error_code(refused) == "DC-6008"
    recall = httpx.get(f"{service.base_url}/sampling/recalls", headers=bearer(token)).json()
    assert recall["people"] == 10
    phones = [m["phone"] for t in recall["tubes"] for m in t["members"]]
    # Cards that carry a phone (EHC, NHSA) gave one; every number is the sandbox's synthetic 199…
    assert any(phones) and all(p.startswith("199") for p in phones if p is not None), phones
    pharmacy = service.token("pharmacy", name="pharmacy-no-recall")
    assert httpx.get(f"{service.base_url}/sampling/recalls", headers=bearer(pharmacy)).status_code == 403
