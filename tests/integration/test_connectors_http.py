"""Webhook and FHIR REST connectors against the SIMULATED HIS served by the sandbox (real HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from his_connectors.fhir_rest import FhirRestConnector
from his_connectors.webhook import WebhookConnector
from sandbox.config import SandboxConfig
from sandbox.server import BackgroundSandbox
from tests.unit.his_connectors.samples import envelope, patient
from tests.unit.his_connectors.tube_samples import tube_closed

SECRET = "synthetic-webhook-secret"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(SandboxConfig(port=0, people=5, his_webhook_secret=SECRET)) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(sandbox: BackgroundSandbox) -> None:
    httpx.delete(f"{sandbox.url}/sandbox/his/received", timeout=5)
    httpx.post(f"{sandbox.url}/sandbox/his/mode", json={"hospital": "*", "mode": "ok"}, timeout=5)


def _set_mode(sandbox: BackgroundSandbox, hospital: str, mode: str) -> None:
    httpx.post(f"{sandbox.url}/sandbox/his/mode", json={"hospital": hospital, "mode": mode}, timeout=5)


def _received(sandbox: BackgroundSandbox, hospital: str) -> dict[str, object]:
    answer = httpx.get(f"{sandbox.url}/sandbox/his/received", params={"hospital": hospital}, timeout=5)
    body: dict[str, object] = answer.json()
    return body


async def test_signed_webhooks_are_accepted_once_in_effect(sandbox: BackgroundSandbox) -> None:
    hook = WebhookConnector(f"{sandbox.url}/sandbox/his/H0001/webhook", SECRET, timeout_s=5)
    forged = WebhookConnector(f"{sandbox.url}/sandbox/his/H0001/webhook", "not-the-secret", timeout_s=5)
    try:
        assert (await hook.deliver(envelope())).delivered
        assert (await hook.deliver(envelope())).delivered  # a retry: same Idempotency-Key
        refused = await forged.deliver(envelope())
        assert (await hook.health()).ok
    finally:
        await hook.close()
        await forged.close()
    assert not refused.delivered and not refused.retryable and refused.detail.startswith("HTTP 401")
    seen = _received(sandbox, "H0001")
    items = seen["items"]
    assert isinstance(items, list)
    assert [i["answered"] for i in items] == ["401", "202", "202"]  # newest first
    assert [i["duplicate"] for i in items[1:]] == [True, False]
    assert seen["accepted"] == 1
    assert json.loads(items[2]["raw"])["topic"] == "patient.created"


async def test_fhir_rest_and_refusals(sandbox: BackgroundSandbox) -> None:
    fhir = FhirRestConnector(f"{sandbox.url}/sandbox/his/H0002/fhir", timeout_s=5)
    try:
        assert (await fhir.health()).ok
        assert (await fhir.deliver(envelope(hospital="H0002"))).delivered
        assert (await fhir.deliver(envelope("patient.updated", hospital="H0002"))).delivered
        await asyncio.to_thread(_set_mode, sandbox, "H0002", "refuse")
        refused = await fhir.deliver(envelope("patient.updated", hospital="H0002"))
        await asyncio.to_thread(_set_mode, sandbox, "H0002", "down")
        down = await fhir.deliver(envelope("patient.updated", hospital="H0002"))
    finally:
        await fhir.close()
    assert refused.detail == "HTTP 422: error/business-rule: simulated refusal" and not refused.retryable
    assert not down.delivered and down.retryable
    types = [i["type"] for i in _received(sandbox, "H0002")["items"]]  # type: ignore[union-attr]
    assert types == ["Patient update", "Patient update", "Patient update", "Patient create"]


async def test_fhir_rest_sends_a_closed_tube_and_a_charge_as_transactions(sandbox: BackgroundSandbox) -> None:
    fhir = FhirRestConnector(f"{sandbox.url}/sandbox/his/H0003/fhir", timeout_s=5)
    charge = {
        "resourceType": "ChargeItem",
        "id": "c1",
        "identifier": [{"value": "T0001"}],
        "status": "billable",
        "code": {"text": "registration fee"},
        "subject": {"reference": "Patient/p1"},
        "context": {"reference": "Encounter/e1"},
    }
    try:
        tube = await fhir.deliver(tube_closed(2, hospital="H0003"))
        billed = await fhir.deliver(
            envelope("payment.charged", hospital="H0003", patient=patient(1), resource=charge)
        )
        bare = await fhir.deliver(envelope("payment.charged", hospital="H0003", patient=patient(1)))
    finally:
        await fhir.close()
    assert tube.delivered and billed.delivered
    assert not bare.delivered and not bare.retryable  # the event names no resource: a transaction of what?
    items = _received(sandbox, "H0003")["items"]
    assert isinstance(items, list)
    charged, closed = items  # newest first
    assert closed["type"] == "Bundle ServiceRequest+Specimen"
    assert closed["key"] == "identifier=urn:dualcode:sampling-tube|TUBE0001"
    sent = json.loads(closed["raw"])
    assert sent == tube_closed(2).payload["bundle"]  # the tube's Bundle as the lab hand-off built it
    assert charged["type"] == "Bundle ChargeItem+Patient"
    entries = json.loads(charged["raw"])["entry"]
    assert entries[1]["request"]["url"] == "ChargeItem?identifier=urn%3Adualcode%3Aresource%7CChargeItem%2Fc1"
    assert entries[1]["resource"]["subject"]["reference"].startswith("Patient?identifier=")
    assert "context" not in entries[1]["resource"] and "id" not in entries[1]["resource"]


async def test_the_sandbox_serves_the_his_mllp_receiver() -> None:
    from his_connectors.mllp import MllpConnector
    from sandbox.server import free_port

    port = free_port()
    running = BackgroundSandbox(SandboxConfig(port=0, people=5, his_mllp_port=port)).start()
    try:
        connector = MllpConnector("127.0.0.1", port, timeout_s=5)
        try:
            assert (await connector.deliver(envelope(hospital="DEMO01"))).delivered
        finally:
            await connector.close()
        seen = await asyncio.to_thread(_received, running, "DEMO01")
        [item] = seen["items"]  # type: ignore[misc]
        assert item["type"] == "ADT^A04" and item["channel"] == "mllp" and item["raw"].startswith("MSH|")
    finally:
        running.stop()
        running._server.config.app.state.his_mllp.stop()  # the receiver's own thread
