"""The simulator's HTTP surface, in-process (httpx over ASGI): control endpoints, platform
envelopes and error codes, fault injection, and the simulator mark on every answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.config import SandboxConfig

MSGID = "H37160200001" + "20260601120000" + "0001"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SandboxConfig(seed=21, people=6))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as c:
        yield c


async def first_person(client: httpx.AsyncClient, index: int = 0) -> dict[str, Any]:
    person: dict[str, Any] = (await client.get("/sandbox/people", params={"limit": 6})).json()["people"][
        index
    ]
    return person


async def issue(client: httpx.AsyncClient, kind: str, id_number: str) -> str:
    code: str = (await client.post("/sandbox/codes", json={"kind": kind, "id_number": id_number})).json()[
        "code"
    ]
    return code


def nhsa_envelope(infno: str, data: dict[str, Any], **changes: str) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "infno": infno,
        "msgid": MSGID,
        "mdtrtarea_admvs": "371600",
        "insuplc_admdvs": "",
        "fixmedins_code": "H37160200001",
        "opter": "op1",
        "inf_time": "2026-06-01 12:00:00",
        "sign_no": "",
        "input": {"data": data},
    }
    return envelope | changes


async def test_every_answer_says_it_is_a_simulator(client: httpx.AsyncClient) -> None:
    answers = [
        await client.get("/"),
        await client.get("/sandbox/people"),
        await client.get("/no/such/path"),
        await client.post("/sandbox/codes", json={"kind": "nope"}),
        await client.post("/essc/api/v1/decode", json={}),
    ]
    assert [a.headers["X-Simulator"] for a in answers] == ["dualcode-sandbox"] * len(answers)
    assert "SIMULATOR" in answers[0].text


async def test_codes_of_every_kind(client: httpx.AsyncClient) -> None:
    person = await first_person(client)
    for kind, dynamic in (
        ("essc", True),
        ("ehc", True),
        ("ehc-static", False),
        ("nhsa", True),
        ("ssc-reader", False),
    ):
        answer = (
            await client.post("/sandbox/codes", json={"kind": kind, "id_number": person["id_number"]})
        ).json()
        assert answer["kind"] == kind and answer["code"]
        assert (answer["expires_at"] is not None) is dynamic, kind
    unknown = await client.post("/sandbox/codes", json={"kind": "essc", "id_number": "110105194912310021"})
    assert unknown.status_code == 404


async def test_people_are_listed_and_created(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/sandbox/people", params={"limit": 2})).json()
    assert listed["total"] == 6 and len(listed["people"]) == 2
    assert set(listed["people"][0]) >= {"id_number", "name", "ssc_card_number", "ehc_id", "nhsa_psn_no"}
    created = (await client.post("/sandbox/people", json={"count": 3})).json()
    assert created["total"] == 9 and len(created["people"]) == 3
    assert (await client.post("/sandbox/people", json={"count": 0})).status_code == 422


async def test_essc_payment_needs_a_level_2_card(client: httpx.AsyncClient) -> None:
    await client.post("/sandbox/people", json={"count": 20})
    people = (await client.get("/sandbox/people", params={"limit": 26})).json()["people"]
    for level, expected in (("1", "E1005"), ("2", "0")):
        person = next(p for p in people if p["essc_sign_level"] == level)
        code = await issue(client, "essc", person["id_number"])
        answer = (await client.post("/essc/api/v1/decode", json={"qrCode": code, "busiType": "02"})).json()
        assert answer["code"] == expected, level
    bad = (await client.post("/essc/api/v1/decode", json={"qrCode": "x", "busiType": "09"})).json()
    assert bad["code"] == "E1000"


async def test_ehc_verify_needs_every_field_and_reports_suspension(client: httpx.AsyncClient) -> None:
    person = await first_person(client, 1)
    code = await issue(client, "ehc-static", person["id_number"])
    body = {
        "qr_code": code,
        "time": "20260601120000",
        "scanner_id": "S1",
        "city_code": "371600",
        "hospital_code": "H1",
        "channel": "01",
        "step": "registration",
    }
    missing = (await client.post("/ehc/api/v1/qrcode/verify", json={**body, "step": ""})).json()
    assert missing["code"] == "1005" and "step" in missing["msg"]
    await client.post("/sandbox/cards/suspend", json={"id_number": person["id_number"]})
    answer = (await client.post("/ehc/api/v1/qrcode/verify", json=body)).json()
    assert answer["code"] == "0000" and answer["data"]["card_status"] == "2"
    assert answer["data"]["birthday"] == person["birth_date"].replace("-", "")
    query = (await client.post("/ehc/api/v1/card/query", json={"ehc_id": "0" * 64})).json()
    assert query["code"] == "1004"


async def test_nhsa_envelope_is_checked(client: httpx.AsyncClient) -> None:
    person = await first_person(client, 2)
    path = "/nhsa/fsi/api/rsfComIfsService/callService"
    data = {"mdtrt_cert_type": "02", "mdtrt_cert_no": person["id_number"]}
    ok = (await client.post(path, json=nhsa_envelope("1101", data))).json()
    assert ok["infcode"] == 0 and ok["output"]["baseinfo"]["psn_no"] == person["nhsa_psn_no"]
    for envelope in (
        nhsa_envelope("1101", data, msgid="short"),
        nhsa_envelope("1101", data, opter=""),
        nhsa_envelope("2207", data),
        nhsa_envelope("1101", {"mdtrt_cert_type": "09", "mdtrt_cert_no": "x"}),
        nhsa_envelope("1101", {"mdtrt_cert_type": "03", "mdtrt_cert_no": person["ssc_card_number"]}),
    ):
        refused = (await client.post(path, json=envelope)).json()
        assert refused["infcode"] == -1 and refused["err_msg"].startswith("E0000-1:")
    nobody = {"mdtrt_cert_type": "02", "mdtrt_cert_no": "110105194912310021"}
    assert (
        (await client.post(path, json=nhsa_envelope("1101", nobody))).json()["err_msg"].startswith("E1101-1:")
    )


async def test_faults_make_a_platform_fail_then_recover(client: httpx.AsyncClient) -> None:
    set_fault = await client.post("/sandbox/faults", json={"platform": "essc", "mode": "fail"})
    assert set_fault.json()["essc"]["mode"] == "fail" and set_fault.json()["ehc"]["mode"] == "ok"
    assert (await client.post("/essc/api/v1/decode", json={})).status_code == 503
    assert (await client.post("/ehc/api/v1/card/query", json={})).status_code == 200
    await client.post("/sandbox/faults", json={"platform": "*", "mode": "slow", "delay_s": 0.01})
    assert (await client.get("/sandbox/faults")).json()["nhsa"] == {"mode": "slow", "delay_s": 0.01}
    await client.post("/sandbox/faults", json={"platform": "*", "mode": "ok"})
    assert (await client.post("/essc/api/v1/decode", json={})).status_code == 200


async def test_platform_calls_are_answered_before_routing_as_their_routes_answer() -> None:
    """The platform calls skip FastAPI (its cost is the simulator's cost on a shared machine), and
    answer exactly what the same handlers answer as FastAPI routes (what /docs describes)."""
    fast, routed = create_app(SandboxConfig(seed=21, people=6)), create_app(SandboxConfig(seed=21, people=6))
    routed.serve_calls([])
    through_fastapi: list[str] = []

    @fast.middleware("http")
    async def count(request: Any, call_next: Any) -> Any:
        through_fastapi.append(request.url.path)
        return await call_next(request)

    answers: dict[str, list[tuple[int, str, Any]]] = {}
    for name, app in (("fast", fast), ("routed", routed)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
            person = await first_person(c)
            static = await issue(c, "ehc-static", person["id_number"])
            verify = {"qr_code": static, "time": "1", "scanner_id": "S", "city_code": "C"}
            verify |= {"hospital_code": "H", "channel": "01", "step": "s"}
            got = [
                await c.post("/ehc/api/v1/qrcode/verify", json=verify),
                await c.post("/ehc/api/v1/qrcode/verify", json=verify),  # surplusNum counts down
                await c.post("/ehc/api/v1/qrcode/verify", content=b"not json"),
                await c.post("/ehc/api/v1/card/query", json={"ehc_id": person["ehc_id"]}),
                await c.post("/essc/api/v1/decode", json={"qrCode": "x", "busiType": "01"}),
                await c.post("/nhsa/fsi/api/rsfComIfsService/callService", json=nhsa_envelope("2207", {})),
            ]
            await c.post("/sandbox/faults", json={"platform": "ehc", "mode": "fail"})
            got.append(await c.post("/ehc/api/v1/card/query", json={}))
            answers[name] = [(a.status_code, a.headers["X-Simulator"], a.json()) for a in got]
    assert answers["fast"] == answers["routed"]
    assert [status for status, _, _ in answers["fast"]] == [200] * 6 + [503]
    assert answers["fast"][1][2]["data"]["surplusNum"] == answers["fast"][0][2]["data"]["surplusNum"] - 1
    assert through_fastapi and not [path for path in through_fastapi if not path.startswith("/sandbox/")]
