"""Each hospital's own patient number: one identifier system per hospital, one number per patient,
created on the first visit and the same ever after; or the number the HIS assigned itself (PID-3).

Numbers are derived, not counted: 11 digits from a hash of (hospital, patient id, attempt) plus a
Luhn check digit. Two first visits of one patient at one hospital at the same moment therefore pick
the same number (the second link is a no-op), and a clash with another patient's number (rare: the
identity link is unique) moves on to the next attempt. No counter row to contend on.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from adapter.errors import DuplicateKey, ServiceUnavailable
from adapter.mpi import events
from adapter.mpi.patients import read_surviving, replaced_by, save_patient
from adapter.storage.ports import UnitOfWork
from mappings.codes import IdentifierKey, IdentifierSystems
from mappings.person import identifier_json, identifier_of

DIGITS: Final = 11
MAX_ATTEMPTS: Final = 16


def luhn_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def candidate_number(hospital_code: str, patient_id: str, attempt: int) -> str:
    digest = hashlib.sha256(f"{hospital_code}\x00{patient_id}\x00{attempt}".encode()).digest()
    body = str(int.from_bytes(digest[:8], "big") % 10**DIGITS).zfill(DIGITS)
    return body + luhn_digit(body)


async def existing_number(uow: UnitOfWork, patient_id: str, body: dict[str, Any], system: str) -> str | None:
    """The number already on the Patient for this hospital (its link confirms it is this patient's).
    Read from the body, not ``links_for``: lookups by identifier stay indexed on every store."""
    for identifier in body.get("identifier", []):
        if identifier.get("system") == system and identifier.get("value"):
            link = await uow.identities.find(system, identifier["value"])
            if link is not None and link.patient_id == patient_id:
                return str(identifier["value"])
    return None


async def assign_local_number(
    uow: UnitOfWork,
    patient_id: str,
    hospital_code: str,
    *,
    systems: IdentifierSystems,
    surviving: dict[str, Any] | None = None,
) -> tuple[str, bool]:
    """(number, created). The surviving Patient of a merge gets the number. ``surviving``: that
    Patient's current body, when the caller has just read it (saves reading it again)."""
    system = systems.hospital_patient_number(hospital_code)
    if surviving is not None and replaced_by(surviving) is None:
        found = await existing_number(uow, patient_id, surviving, system)
        if found is not None:
            return found, False
    stored = await read_surviving(uow, patient_id)
    found = await existing_number(uow, stored.id, stored.body, system)
    if found is not None:
        return found, False
    for attempt in range(MAX_ATTEMPTS):
        number = candidate_number(hospital_code, stored.id, attempt)
        try:
            await uow.identities.link(system, number, stored.id)
        except DuplicateKey:
            continue  # another patient holds this number at this hospital: next candidate
        # False: a concurrent first visit of this patient linked the same number and published it.
        return number, await _publish_number(uow, stored.id, hospital_code, number, systems)
    raise ServiceUnavailable("no free patient number found for this hospital; retry")


async def link_local_number(
    uow: UnitOfWork, patient_id: str, hospital_code: str, number: str, *, systems: IdentifierSystems
) -> bool:
    """Link a number the HIS assigned itself. True when new; DuplicateKey when the hospital uses
    it for another patient (a merge for a person to decide, never done here)."""
    stored = await read_surviving(uow, patient_id)
    system = systems.hospital_patient_number(hospital_code)
    link = await uow.identities.find(system, number)
    if link is not None and link.patient_id == stored.id:
        return False
    await uow.identities.link(system, number, stored.id)
    return await _publish_number(uow, stored.id, hospital_code, number, systems)


async def _publish_number(
    uow: UnitOfWork, patient_id: str, hospital_code: str, number: str, systems: IdentifierSystems
) -> bool:
    """Put the number on the Patient and announce it; False when it is there already."""
    stored = await uow.resources.read("Patient", patient_id)
    identifier = identifier_of(
        systems, IdentifierKey.HOSPITAL_PATIENT_NUMBER, number, hospital_code=hospital_code
    )
    present = stored.body.get("identifier", [])
    if any(i.get("system") == identifier.system and i.get("value") == number for i in present):
        return False
    body = {**stored.body, "identifier": [*present, identifier_json(identifier, systems)]}
    stored = await save_patient(uow, body, if_match=stored.version_id)
    source = f"his:{hospital_code}"
    await events.publish(uow, events.PATIENT_UPDATED, patient_id, versionId=stored.version_id, source=source)
    await events.publish_links(uow, patient_id, stored.version_id, [(identifier, False)])
    return True
