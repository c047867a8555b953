"""Webhook and FHIR REST connectors against httpx mock transports (no sockets)."""

from __future__ import annotations

import json

import httpx

from his_connectors.fhir_rest import FhirRestConnector
from his_connectors.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookConnector,
    verify,
)
from tests.unit.his_connectors.samples import ID_SYSTEM, envelope, patient

SECRET = "synthetic-test-secret"


async def test_the_webhook_signs_and_keys_each_event() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202 if len(seen) == 1 else 409)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    hook = WebhookConnector("http://his.test/hook", SECRET, client=client, clock=lambda: 1_800_000_000.0)
    try:
        first = await hook.deliver(envelope())
        again = await hook.deliver(envelope())  # the receiver has it already: 409 counts as done
    finally:
        await hook.close()
    assert first.delivered and again.delivered
    request = seen[0]
    assert request.headers[IDEMPOTENCY_HEADER] == "0123456789abcdef0123456789abcdef"
    assert request.headers[TIMESTAMP_HEADER] == "1800000000"
    assert verify(SECRET, "1800000000", request.content, request.headers[SIGNATURE_HEADER])
    assert not verify("another", "1800000000", request.content, request.headers[SIGNATURE_HEADER])
    document = json.loads(request.content)
    assert document["topic"] == "patient.created" and document["resources"]["patient"]["id"] == "p1"


async def test_webhook_failures_are_retryable_or_not() -> None:
    statuses = iter([503, 400])
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(next(statuses))))
    hook = WebhookConnector("http://his.test/hook", SECRET, client=client)
    try:
        unavailable, bad = await hook.deliver(envelope()), await hook.deliver(envelope())
    finally:
        await hook.close()
    assert not unavailable.delivered and unavailable.retryable
    assert not bad.delivered and not bad.retryable


async def test_fhir_creates_conditionally_and_updates_by_identifier() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": "Patient/his-1/_history/1"})
        return httpx.Response(200, json={"resourceType": "Patient", "id": "his-1"})

    fhir = FhirRestConnector(
        "http://his.test/fhir/", client=httpx.AsyncClient(transport=httpx.MockTransport(answer))
    )
    try:
        created = await fhir.deliver(envelope())
        updated = await fhir.deliver(envelope("patient.updated"))
        merged = await fhir.deliver(envelope("patient.merged", patient=patient(1), target=patient(2)))
    finally:
        await fhir.close()
    assert created.delivered and created.reference == "Patient/his-1/_history/1"
    assert updated.delivered and updated.reference == "Patient/his-1"
    assert merged.delivered
    post, put, merge_put = seen
    assert post.url == "http://his.test/fhir/Patient"
    assert post.headers["If-None-Exist"] == str(
        httpx.QueryParams({"identifier": f"{ID_SYSTEM}|{patient(1)['identifier'][0]['value']}"})
    )
    assert "id" not in json.loads(post.content)  # the HIS keeps its own ids
    assert put.method == "PUT" and put.url.params["identifier"].startswith(ID_SYSTEM + "|")
    assert merge_put.url.params["identifier"].endswith(patient(2)["identifier"][0]["value"])


async def test_fhir_keeps_the_operation_outcome() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "business-rule", "diagnostics": "duplicate person"}],
    }
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(422, json=outcome)))
    fhir = FhirRestConnector("http://his.test/fhir", client=client)
    try:
        receipt = await fhir.deliver(envelope())
        nothing = await fhir.deliver(envelope(patient={"resourceType": "Patient", "id": "x"}))
    finally:
        await fhir.close()
    assert not receipt.delivered and not receipt.retryable
    assert receipt.detail == "HTTP 422: error/business-rule: duplicate person"
    assert not nothing.delivered and "no identifier" in nothing.detail


async def test_unreachable_endpoints_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fhir = FhirRestConnector(
        "http://his.test/fhir", client=httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    )
    try:
        receipt = await fhir.deliver(envelope())
        health = await fhir.health()
    finally:
        await fhir.close()
    assert not receipt.delivered and receipt.retryable and receipt.detail == "HIS unreachable: ConnectError"
    assert not health.ok
