"""INTERIM handler: ADT^A04/A08 → a FHIR Patient created or updated, to prove the gateway end to end.

To be replaced by the ADT handler over mappings.v2_to_fhir (PID/PD1/NK1/PV1/IN1, the patient index).
It keys the Patient on PID-3's first identifier, as that hospital's patient number, so a repeated
registration updates the same Patient (a new version) instead of creating another.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from adapter.errors import UnparseableMessage
from adapter.fhir.search_params import index_tokens
from adapter.hl7v2.pid import PidSummary, read_pid
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import SearchToken

_SAFE_CODE = re.compile(r"[^A-Za-z0-9._-]")
_SEX = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}


def patient_number_system(authority: str) -> str:
    """The identifier system of one hospital's patient numbers (mappings/codes: hospital-patient-number)."""
    return f"urn:dualcode:hospital:{_SAFE_CODE.sub('-', authority) or 'unknown'}:patient-number"


async def adt_patient(context: MessageContext, uow: UnitOfWork) -> HandlerResult:
    pid = read_pid(context.segments, context.msh)
    if pid is None:
        raise UnparseableMessage("the message has no PID segment", hl7_location="PID")
    if not pid.identifiers:
        raise UnparseableMessage("PID-3 (patient identifier list) is empty", hl7_location="PID-3")
    facility = context.msh.sending_facility.split(context.msh.component_sep, 1)[0]
    body = _patient(pid, facility)
    first = body["identifier"][0]
    found = await uow.resources.search(
        "Patient", [SearchToken("identifier", first["system"], first["value"])], limit=1
    )
    if found:
        body["id"] = found[0].id
        stored, _ = await uow.resources.update(body, tokens=index_tokens(body))
    else:
        stored, _ = await uow.resources.create(body, tokens=index_tokens(body))
    return HandlerResult(
        patient_id=stored.id, resources=(f"Patient/{stored.id}/_history/{stored.version_id}",)
    )


def _patient(pid: PidSummary, facility: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [
            {"system": patient_number_system(i.authority or facility), "value": i.value}
            for i in pid.identifiers
        ],
    }
    name: dict[str, Any] = {}
    if pid.family:
        name["family"] = pid.family
    if pid.given:
        name["given"] = list(pid.given)
    if name:
        body["name"] = [name]
    birth = _date(pid.birth_date)
    if birth:
        body["birthDate"] = birth
    if pid.sex[:1] in _SEX:
        body["gender"] = _SEX[pid.sex[:1]]
    return body


def _date(value: str) -> str | None:
    """YYYYMMDD as a FHIR date; an invalid date (19801340) is left out rather than stored wrong."""
    try:
        return datetime.strptime(value, "%Y%m%d").date().isoformat()
    except ValueError:
        return None
