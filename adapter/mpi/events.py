"""Outbox events of the patient index, written in the unit of work of the change they report.

Every event is ordered per Patient ("Patient/<id>") and goes to "*" (the dispatcher fans out per
hospital). Payloads carry references and version ids, and identifiers where a hospital needs them;
the outbox encrypts payloads at rest.

What a hospital records about a patient afterwards is announced the same way, on the same ordering
key (a HIS hears of the patient before their charges): a ChargeItem (DFT^P03) as ``payment.charged``,
or ``settlement.paid`` when its FT1-6 transaction type is a payment (PY, HL7 table 0017); a
MedicationRequest (RDE^O11) as ``pharmacy.prescribed``; a MedicationDispense (RDS^O13) as
``pharmacy.dispensed``. Their payload names the resource at the version the change wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from adapter.storage.ports import UnitOfWork
from mappings.person import FactIdentifier
from mappings.v2_to_fhir.systems import EXT_TRANSACTION_TYPE

PATIENT_CREATED: Final = "patient.created"
PATIENT_UPDATED: Final = "patient.updated"
IDENTIFIER_LINKED: Final = "patient.identifier-linked"
PATIENT_MERGED: Final = "patient.merged"
PATIENT_UNMERGED: Final = "patient.unmerged"
CHARGE_POSTED: Final = "payment.charged"
SETTLEMENT_PAID: Final = "settlement.paid"
PRESCRIBED: Final = "pharmacy.prescribed"
DISPENSED: Final = "pharmacy.dispensed"
ALL_DESTINATIONS: Final = "*"
_TOPIC_OF_TYPE: Final = {
    "ChargeItem": CHARGE_POSTED,
    "MedicationRequest": PRESCRIBED,
    "MedicationDispense": DISPENSED,
}
_PAYMENT_TYPES: Final = frozenset({"PY"})  # HL7 table 0017: a payment settles the account


async def publish(uow: UnitOfWork, topic: str, patient_id: str, **payload: Any) -> None:
    reference = f"Patient/{patient_id}"
    await uow.outbox.add(
        topic=topic,
        destination=ALL_DESTINATIONS,
        ordering_key=reference,
        payload={"patient": reference, **payload},
    )


async def publish_links(
    uow: UnitOfWork, patient_id: str, version_id: int, linked: Iterable[tuple[FactIdentifier, bool]]
) -> None:
    """One patient.identifier-linked event for the identifiers one call linked (flagged ones say so)."""
    identifiers = [{"system": i.system, "value": i.value, "flagged": flagged} for i, flagged in linked]
    if identifiers:
        await publish(uow, IDENTIFIER_LINKED, patient_id, versionId=version_id, identifiers=identifiers)


async def publish_recorded(uow: UnitOfWork, references: Iterable[str], *, source: str) -> int:
    """One event per ChargeItem, MedicationRequest and MedicationDispense among ``references``
    (versioned, as a message handler reports what it stored: ``ChargeItem/7/_history/2``), ordered on
    the Patient among them. Returns how many were written."""
    parsed = [_versioned(r) for r in references]
    patient = next(((i, v) for kind, i, v in parsed if kind == "Patient"), None)
    if patient is None:
        return 0
    written = 0
    for kind, resource_id, version in parsed:
        topic = _TOPIC_OF_TYPE.get(kind)
        if topic is None:
            continue
        if kind == "ChargeItem" and _is_payment((await uow.resources.vread(kind, resource_id, version)).body):
            topic = SETTLEMENT_PAID
        await publish(
            uow, topic, patient[0], versionId=patient[1], resource=f"{kind}/{resource_id}",
            resourceVersion=version, source=source,
        )  # fmt: skip
        written += 1
    return written


def _versioned(reference: str) -> tuple[str, str, int]:
    kind, resource_id, _, version = [*reference.split("/"), "", "", ""][:4]
    return kind, resource_id, int(version) if version.isdigit() else 0


def _is_payment(charge: dict[str, Any]) -> bool:
    for extension in charge.get("extension", []):
        if extension.get("url") == EXT_TRANSACTION_TYPE:
            return extension.get("valueCoding", {}).get("code") in _PAYMENT_TYPES
    return False
