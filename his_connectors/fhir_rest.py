"""FHIR REST to a HIS's FHIR server: conditional create and update keyed on the patient's identifier.

patient.created -> POST [base]/Patient with If-None-Exist: identifier=system|value (created once,
however often it is sent); any other patient event -> PUT [base]/Patient?identifier=system|value
(conditional update: creates when absent). Our resource id is not sent: the HIS keeps its own ids.
On failure the OperationOutcome's diagnostics are kept in the receipt.

A closed sampling tube (``sampling.tube-closed``) is POSTed to [base] as the transaction Bundle built
when it closed (conditional creates of the Specimen and one ServiceRequest per member). An event about
a patient's resource (a ChargeItem, MedicationRequest or MedicationDispense: payment, settlement and
pharmacy events) is POSTed as a transaction Bundle of two conditional updates: the Patient (on its
identifier) and the resource, keyed on ``urn:dualcode:resource|<type>/<our id>`` (added to its
identifiers, so a later version updates the same resource at the HIS), its patient reference made the
conditional reference ``Patient?identifier=...`` and our other references left out (the HIS cannot
resolve them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from his_connectors.base import Envelope, Health, Receipt
from his_connectors.http_common import failure, new_client, probe

FHIR_JSON = "application/fhir+json"
RESOURCE_SYSTEM = "urn:dualcode:resource"
TUBE_CLOSED = "sampling.tube-closed"
_PATIENT_REFERENCES = ("subject", "patient")


class FhirRestConnector:
    def __init__(
        self, base_url: str, *, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or new_client(timeout_s)

    async def deliver(self, envelope: Envelope) -> Receipt:
        if not envelope.topic.startswith("patient."):  # tubes, payment, settlement, pharmacy
            return await self._transaction(envelope)
        patient = envelope.resources.get("patient")
        if envelope.topic == "patient.merged" and "target" in envelope.resources:
            patient = envelope.resources["target"]  # the survivor: the source follows as inactive
        if patient is None:
            return Receipt.failed("the event carries no patient", retryable=False)
        search = _identifier_search(patient)
        if search is None:
            return Receipt.failed("the patient has no identifier to match on", retryable=False)
        body = {k: v for k, v in patient.items() if k not in ("id", "meta")}
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "X-Request-Id": envelope.event_id}
        try:
            if envelope.topic == "patient.created":
                answer = await self._client.post(
                    f"{self.base_url}/Patient", json=body, headers={**headers, "If-None-Exist": search}
                )
            else:
                answer = await self._client.put(
                    f"{self.base_url}/Patient?{search}", json=body, headers=headers
                )
        except httpx.HTTPError as error:
            return Receipt.failed(f"HIS unreachable: {type(error).__name__}")
        if answer.is_success:
            return Receipt.ok(_location(answer), f"HTTP {answer.status_code}")
        return failure(answer, _diagnostics(answer))

    async def _transaction(self, envelope: Envelope) -> Receipt:
        if envelope.topic == TUBE_CLOSED:
            bundle = envelope.payload.get("bundle")
            if not isinstance(bundle, dict) or bundle.get("type") != "transaction":
                return Receipt.failed("the event carries no transaction Bundle", retryable=False)
        else:
            built = resource_bundle(envelope)
            if isinstance(built, str):
                return Receipt.failed(built, retryable=False)
            bundle = built
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "X-Request-Id": envelope.event_id}
        try:
            answer = await self._client.post(f"{self.base_url}", json=bundle, headers=headers)
        except httpx.HTTPError as error:
            return Receipt.failed(f"HIS unreachable: {type(error).__name__}")
        if answer.is_success:
            return Receipt.ok(envelope.event_id, f"HTTP {answer.status_code}")
        return failure(answer, _diagnostics(answer))

    async def health(self) -> Health:
        return await probe(self._client, f"{self.base_url}/metadata")

    async def close(self) -> None:
        await self._client.aclose()


def _identifier_search(patient: Mapping[str, Any]) -> str | None:
    for identifier in patient.get("identifier", []):
        system, value = identifier.get("system"), identifier.get("value")
        if system and value:
            return str(httpx.QueryParams({"identifier": f"{system}|{value}"}))
    return None


def _location(answer: httpx.Response) -> str | None:
    location = answer.headers.get("Location") or answer.headers.get("Content-Location")
    if location:
        return str(location)
    try:
        body = answer.json()
    except ValueError:
        return None
    return f"Patient/{body['id']}" if isinstance(body, dict) and "id" in body else None


def _diagnostics(answer: httpx.Response) -> str:
    """The OperationOutcome's issues, kept as the HIS wrote them."""
    try:
        body = answer.json()
    except ValueError:
        return answer.reason_phrase
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return answer.reason_phrase
    issues = [_issue(i) for i in body.get("issue", []) if isinstance(i, dict)]
    return "; ".join(issues) or answer.reason_phrase


def _issue(issue: dict[str, Any]) -> str:
    text = issue.get("diagnostics") or issue.get("details", {}).get("text", "")
    return f"{issue.get('severity', '')}/{issue.get('code', '')}: {text}"


def resource_bundle(envelope: Envelope) -> dict[str, Any] | str:
    """The transaction Bundle for an event about a patient's resource, or why there is none."""
    patient, resource = envelope.resources.get("patient"), envelope.resources.get("resource")
    if patient is None or resource is None:
        return "the event carries no patient or no resource"
    search = _identifier_search(patient)
    if search is None:
        return "the patient has no identifier to match on"
    kind, our_id = str(resource.get("resourceType", "")), str(resource.get("id", ""))
    if not kind or not our_id:
        return "the resource has no type or id"
    key = {"system": RESOURCE_SYSTEM, "value": f"{kind}/{our_id}"}
    body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    body["identifier"] = [*(i for i in body.get("identifier", []) if i != key), key]
    for name in list(body):
        if name in _PATIENT_REFERENCES:
            body[name] = {"reference": f"Patient?{search}"}
        elif _is_local_reference(body[name]):
            del body[name]  # our Encounter / MedicationRequest id means nothing to the HIS
    resource_search = str(httpx.QueryParams({"identifier": f"{RESOURCE_SYSTEM}|{kind}/{our_id}"}))
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {k: v for k, v in patient.items() if k not in ("id", "meta")},
                "request": {"method": "PUT", "url": f"Patient?{search}"},
            },
            {"resource": body, "request": {"method": "PUT", "url": f"{kind}?{resource_search}"}},
        ],
    }


def _is_local_reference(value: object) -> bool:
    """A Reference (or a list of them) to one of our resources by id."""
    if isinstance(value, list):
        return bool(value) and all(_is_local_reference(v) for v in value)
    if not isinstance(value, dict) or set(value) - {"reference", "display", "type"}:
        return False
    reference = value.get("reference")
    return isinstance(reference, str) and reference.count("/") == 1 and "?" not in reference
