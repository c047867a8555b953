"""Audit: AuditRecord values written in the unit of work of each access, and their FHIR R4 form.

``operation`` is "<interaction> <what>", e.g. "read Patient", "search Patient", "oauth token",
"hl7 ADT^A04". A FHIR RESTful interaction becomes type ``rest`` with a restful-interaction subtype;
a login becomes DICOM 110114 "User Authentication"; anything else touching a patient's record is
DICOM 110110 "Patient Record". The shape follows IHE Basic Audit Log Patterns (BALP), R4.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from adapter.security.caller import Caller
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import AuditRecord

ACTIONS = frozenset("CRUDE")
OUTCOME_SUCCESS, OUTCOME_MINOR, OUTCOME_SERIOUS, OUTCOME_MAJOR = "0", "4", "8", "12"
OUTCOMES = frozenset({OUTCOME_SUCCESS, OUTCOME_MINOR, OUTCOME_SERIOUS, OUTCOME_MAJOR})

_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_RESTFUL = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_BALP_ENTITY = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
CLIENT_SYSTEM = "urn:dualcode:client"
HL7_SENDER_SYSTEM = "urn:dualcode:hl7-sender"

_REST_CODES = frozenset(
    {
        "read", "vread", "update", "patch", "delete", "history-instance", "history-type",
        "history-system", "create", "search-type", "search-system", "capabilities",
        "transaction", "batch", "operation",
    }
)  # fmt: skip
_REST_ALIASES = {"search": "search-type", "history": "history-instance"}
_LOGIN_WORDS = frozenset({"oauth", "login", "token", "authenticate"})


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _event_type(operation: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    verb = operation.split(" ", 1)[0].lower()
    verb = _REST_ALIASES.get(verb, verb)
    if verb in _REST_CODES:
        return _coding(_EVENT_TYPE, "rest", "RESTful Operation"), [_coding(_RESTFUL, verb, verb)]
    if verb in _LOGIN_WORDS:
        return _coding(_DCM, "110114", "User Authentication"), [_coding(_DCM, "110122", "Login")]
    return _coding(_DCM, "110110", "Patient Record"), []


def _agent(record: AuditRecord) -> dict[str, Any]:
    system, value = CLIENT_SYSTEM, record.agent
    if record.agent.startswith("mllp:"):
        system, value = HL7_SENDER_SYSTEM, record.agent.removeprefix("mllp:")
    agent: dict[str, Any] = {
        "type": {"coding": [_coding(_DCM, "110150", "Application")]},
        "who": {"identifier": {"system": system, "value": value}},
        "requestor": True,
    }
    if record.source_ip:
        agent["network"] = {"address": record.source_ip, "type": "2"}  # 2 = IP address
    return agent


def _entities(record: AuditRecord) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    patient_ref = f"Patient/{record.patient_id}" if record.patient_id else None
    if patient_ref:
        entities.append(
            {
                "what": {"reference": patient_ref},
                "type": _coding(_ENTITY_TYPE, "1", "Person"),
                "role": _coding(_OBJECT_ROLE, "1", "Patient"),
            }
        )
    if record.resource and record.resource != patient_ref:
        # "Patient/1/_history/2" is a reference; a bare type ("Patient", a search) is only a type.
        what = {"reference" if "/" in record.resource else "type": record.resource}
        entities.append(
            {
                "what": what,
                "type": _coding(_ENTITY_TYPE, "2", "System Object"),
                "role": _coding(_OBJECT_ROLE, "4", "Domain Resource"),
            }
        )
    if record.request_id:
        # BALP's way to carry the X-Request-Id that ties this event to the logs.
        entities.append(
            {
                "what": {"identifier": {"value": record.request_id}},
                "type": _coding(_BALP_ENTITY, "XrequestId"),
            }
        )
    if record.detail:
        details = [{"type": k, "valueString": v} for k, v in sorted(record.detail.items())]
        if entities:
            entities[0]["detail"] = details
        else:
            entities.append({"detail": details})
    return entities


def audit_event(record: AuditRecord) -> dict[str, Any]:
    """The FHIR R4 AuditEvent (JSON) for one record; valid against fhir.resources R4B."""
    if record.recorded_at.tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    event_type, subtype = _event_type(record.operation)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": record.id,
        "type": event_type,
        "action": record.action,
        "recorded": record.recorded_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "outcome": record.outcome,
        "agent": [_agent(record)],
        "source": {
            "observer": {"display": "dualcode"},
            "type": [_coding(_SOURCE_TYPE, "4", "Application Server")],
        },
    }
    if subtype:
        event["subtype"] = subtype
    if record.outcome != OUTCOME_SUCCESS:
        event["outcomeDesc"] = record.detail.get("reason", f"{record.operation} failed")
    entities = _entities(record)
    if entities:
        event["entity"] = entities
    return event


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Auditor:
    """Builds AuditRecord values (uuid id, UTC now) so a route writes its audit in one line."""

    def __init__(self, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock

    def to_fhir(self, record: AuditRecord) -> dict[str, Any]:
        """The FHIR AuditEvent for a stored record (see ``audit_event``)."""
        return audit_event(record)

    def build_for(self, caller: Caller, **fields: Any) -> AuditRecord:
        """``build`` with the agent, source address and request id taken from the caller."""
        return self.build(
            agent=caller.client_id, source_ip=caller.source_ip, request_id=caller.request_id, **fields
        )

    def build(
        self,
        *,
        agent: str,
        action: str,
        operation: str,
        outcome: str = OUTCOME_SUCCESS,
        patient_id: str | None = None,
        resource: str | None = None,
        source_ip: str | None = None,
        request_id: str | None = None,
        detail: Mapping[str, str] | None = None,
    ) -> AuditRecord:
        # Wrong codes are programming errors: fail loudly rather than store an unrenderable event.
        if action not in ACTIONS:
            raise ValueError(f"action must be one of C R U D E, got {action!r}")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of 0 4 8 12, got {outcome!r}")
        return AuditRecord(
            id=str(uuid.uuid4()),
            recorded_at=self._clock(),
            agent=agent,
            action=action,
            operation=operation,
            outcome=outcome,
            patient_id=patient_id,
            resource=resource,
            source_ip=source_ip,
            request_id=request_id,
            detail=dict(detail or {}),
        )

    async def record_for(self, uow: UnitOfWork, caller: Caller, **fields: Any) -> AuditRecord:
        """``record`` with the agent, source address and request id taken from the caller."""
        return await self.record(
            uow, agent=caller.client_id, source_ip=caller.source_ip, request_id=caller.request_id, **fields
        )

    async def record(
        self,
        uow: UnitOfWork,
        *,
        agent: str,
        action: str,
        operation: str,
        outcome: str = OUTCOME_SUCCESS,
        patient_id: str | None = None,
        resource: str | None = None,
        source_ip: str | None = None,
        request_id: str | None = None,
        detail: Mapping[str, str] | None = None,
    ) -> AuditRecord:
        """Build a record and write it in ``uow``: it commits or rolls back with the change it audits."""
        entry = self.build(
            agent=agent,
            action=action,
            operation=operation,
            outcome=outcome,
            patient_id=patient_id,
            resource=resource,
            source_ip=source_ip,
            request_id=request_id,
            detail=detail,
        )
        await uow.audit.record(entry)
        return entry
