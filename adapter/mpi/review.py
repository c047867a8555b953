"""Review items: conflicting source data becomes a FHIR Task for a person to decide, never a merge.

Why a Task: it is the FHIR work item (status requested -> completed/rejected), it is versioned and
searchable by the repository like any resource, and it keeps both facts (the Patient keeps the
existing value; the Task's inputs hold existing and incoming). One open Task per patient and
conflict content: a source that repeats the same disagreement on every scan finds the same Task
(conditional create on a fingerprint identifier).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Final

from adapter.mpi.values import ReviewFlag
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import SearchToken
from mappings.person import FactConflict

REVIEW_SYSTEM: Final = "urn:dualcode:mpi-review"
DEMOGRAPHIC_CONFLICT: Final = "demographic-conflict"
IDENTIFIER_CONFLICT: Final = "identifier-conflict"


def review_task(
    patient_id: str, kind: str, conflicts: Sequence[FactConflict], fingerprint: str
) -> dict[str, Any]:
    reference = {"reference": f"Patient/{patient_id}"}
    sources = sorted({c.source for c in conflicts})
    inputs: list[dict[str, Any]] = []
    for conflict in conflicts:
        inputs.append({"type": {"text": f"existing {conflict.field}"}, "valueString": conflict.existing})
        inputs.append(
            {
                "type": {"text": f"incoming {conflict.field} ({conflict.source})"},
                "valueString": conflict.incoming,
            }
        )
    return {
        "resourceType": "Task",
        "identifier": [{"system": REVIEW_SYSTEM, "value": fingerprint}],
        "status": "requested",
        "intent": "proposal",
        "priority": "routine",
        "code": {"coding": [{"system": REVIEW_SYSTEM, "code": kind}], "text": kind},
        "description": f"Review {kind} from {', '.join(sources)}: {', '.join(c.field for c in conflicts)}",
        "focus": reference,
        "for": reference,
        "input": inputs,
    }


def task_tokens(patient_id: str, kind: str, fingerprint: str) -> list[SearchToken]:
    return [
        SearchToken("identifier", REVIEW_SYSTEM, fingerprint),
        SearchToken("patient", None, f"Patient/{patient_id}"),
        SearchToken("status", None, "requested"),
        SearchToken("code", REVIEW_SYSTEM, kind),
    ]


async def open_review(
    uow: UnitOfWork, patient_id: str, kind: str, conflicts: Sequence[FactConflict]
) -> ReviewFlag:
    """Create (or find the open) review Task for these conflicts; returns the flag for Resolution."""
    fingerprint = _fingerprint(patient_id, kind, conflicts)
    stored, _ = await uow.resources.create(
        review_task(patient_id, kind, conflicts, fingerprint),
        tokens=task_tokens(patient_id, kind, fingerprint),
        if_none_exist=[SearchToken("identifier", REVIEW_SYSTEM, fingerprint)],
    )
    source = conflicts[0].source if conflicts else ""
    fields = tuple(dict.fromkeys(c.field for c in conflicts))
    return ReviewFlag(kind, fields, f"Task/{stored.id}", source, tuple(conflicts))


def _fingerprint(patient_id: str, kind: str, conflicts: Sequence[FactConflict]) -> str:
    # A digest, not the values: the identifier token must not carry the conflicting data itself.
    parts = [patient_id, kind, *sorted(f"{c.field}\x00{c.existing}\x00{c.incoming}" for c in conflicts)]
    return hashlib.sha256("\x01".join(parts).encode("utf-8")).hexdigest()[:32]
