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
from tests.unit.his_connectors.samples import envelope

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
