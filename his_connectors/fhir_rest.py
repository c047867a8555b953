"""FHIR REST to a HIS's FHIR server: conditional create and update keyed on the patient's identifier.

patient.created -> POST [base]/Patient with If-None-Exist: identifier=system|value (created once,
however often it is sent); any other patient event -> PUT [base]/Patient?identifier=system|value
(conditional update: creates when absent). Our resource id is not sent: the HIS keeps its own ids.
On failure the OperationOutcome's diagnostics are kept in the receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from his_connectors.base import Envelope, Health, Receipt
from his_connectors.http_common import failure, new_client, probe

FHIR_JSON = "application/fhir+json"


class FhirRestConnector:
    def __init__(
        self, base_url: str, *, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or new_client(timeout_s)

    async def deliver(self, envelope: Envelope) -> Receipt:
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
