"""Synthetic test data only: made-up identifiers, systems and names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapter.storage import AuditRecord, ClientRecord, SearchToken

ID_SYSTEM = "urn:oid:2.999.1"  # 2.999 is the OID arc reserved for examples
CARD_SYSTEM = "urn:oid:2.999.2"

NOW = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)  # outbox clock: after any created_at, so all is due
LEASE = 30.0


def patient(identifier: str | None = None, *, system: str = ID_SYSTEM, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Patient", **extra}
    if identifier is not None:
        body["identifier"] = [{"system": system, "value": identifier}]
    return body


def identifier_token(value: str, system: str | None = ID_SYSTEM) -> SearchToken:
    return SearchToken("identifier", system, value)


def audit_record(record_id: str, *, patient_id: str | None = None, agent: str = "client-a") -> AuditRecord:
    return AuditRecord(
        id=record_id,
        recorded_at=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        agent=agent,
        action="R",
        operation="read Patient",
        outcome="0",
        patient_id=patient_id,
        resource=None if patient_id is None else f"Patient/{patient_id}",
        source_ip="192.0.2.10",  # TEST-NET-1
        request_id=f"req-{record_id}",
        detail={"query": "identifier=urn:oid:2.999.1|TEST"},
    )


def client(client_id: str, *, roles: tuple[str, ...] = ("pharmacy",)) -> ClientRecord:
    return ClientRecord(
        client_id=client_id,
        name=f"Test client {client_id}",
        roles=roles,
        secret_hash="pbkdf2_sha256$1$c2FsdA$aGFzaA",
        created_at=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        organization="Test Pharmacy",
    )
