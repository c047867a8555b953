"""Outbox events of the patient index, written in the unit of work of the change they report.

Every event is ordered per Patient ("Patient/<id>") and goes to "*" (the dispatcher fans out per
hospital). Payloads carry references and version ids, and identifiers where a hospital needs them;
the outbox encrypts payloads at rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from adapter.storage.ports import UnitOfWork
from mappings.person import FactIdentifier

PATIENT_CREATED: Final = "patient.created"
PATIENT_UPDATED: Final = "patient.updated"
IDENTIFIER_LINKED: Final = "patient.identifier-linked"
PATIENT_MERGED: Final = "patient.merged"
PATIENT_UNMERGED: Final = "patient.unmerged"
ALL_DESTINATIONS: Final = "*"


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
