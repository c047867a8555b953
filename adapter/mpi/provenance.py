"""The Provenance that records a merge or its undo: who, why, which versions, and what moved.

It is also the handle for unmerge, so it carries what an undo needs: the source and target, the
identifiers whose links moved, and which of them were copied onto the target's body.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any, Final

from adapter.security.audit import CLIENT_SYSTEM
from adapter.storage.records import SearchToken, StoredResource

LIFECYCLE: Final = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
PARTICIPANT: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
MERGE_SOURCE: Final = "urn:dualcode:extension:merge-source"
MERGE_TARGET: Final = "urn:dualcode:extension:merge-target"
MOVED_IDENTIFIER: Final = "urn:dualcode:extension:moved-identifier"
COPIED_IDENTIFIER: Final = "urn:dualcode:extension:copied-identifier"
UNDOES: Final = "urn:dualcode:extension:undoes"


def _version_ref(stored: StoredResource) -> dict[str, str]:
    return {"reference": f"{stored.resource_type}/{stored.id}/_history/{stored.version_id}"}


def provenance(
    activity: str,
    *,
    source: StoredResource,
    target: StoredResource,
    actor: str,
    reason: str,
    moved: Sequence[tuple[str, str]] = (),
    copied: Sequence[tuple[str, str]] = (),
    undoes: str | None = None,
) -> dict[str, Any]:
    """activity "merge" or "unmerge" (ISO 21089 lifecycle events); source/target are the versions
    this change wrote."""
    extension: list[dict[str, Any]] = [
        {"url": MERGE_SOURCE, "valueReference": {"reference": f"Patient/{source.id}"}},
        {"url": MERGE_TARGET, "valueReference": {"reference": f"Patient/{target.id}"}},
    ]
    extension += [{"url": MOVED_IDENTIFIER, "valueIdentifier": {"system": s, "value": v}} for s, v in moved]
    extension += [{"url": COPIED_IDENTIFIER, "valueIdentifier": {"system": s, "value": v}} for s, v in copied]
    if undoes:
        extension.append({"url": UNDOES, "valueReference": {"reference": undoes}})
    body: dict[str, Any] = {
        "resourceType": "Provenance",
        "extension": extension,
        "target": [_version_ref(source), _version_ref(target)],
        "recorded": max(source.last_updated, target.last_updated).astimezone(UTC).isoformat(),
        "activity": {"coding": [{"system": LIFECYCLE, "code": activity}]},
        "reason": [{"text": reason}],
        "agent": [
            {
                "type": {"coding": [{"system": PARTICIPANT, "code": "author"}]},
                "who": {"identifier": {"system": CLIENT_SYSTEM, "value": actor}},
            }
        ],
    }
    prior = [s for s in (source, target) if s.version_id > 1]
    if prior:
        body["entity"] = [
            {"role": "revision", "what": {"reference": f"Patient/{s.id}/_history/{s.version_id - 1}"}}
            for s in prior
        ]
    return body


def provenance_tokens(source_id: str, target_id: str, activity: str) -> list[SearchToken]:
    return [
        SearchToken("target", None, f"Patient/{source_id}"),
        SearchToken("target", None, f"Patient/{target_id}"),
        SearchToken("activity", LIFECYCLE, activity),
    ]


def extension_values(body: dict[str, Any], url: str) -> list[Any]:
    out: list[Any] = []
    for extension in body.get("extension", []):
        if extension.get("url") == url:
            out.extend(v for k, v in extension.items() if k.startswith("value"))
    return out


def identifiers_in(body: dict[str, Any], url: str) -> list[tuple[str, str]]:
    return [(str(v["system"]), str(v["value"])) for v in extension_values(body, url)]


def reference_in(body: dict[str, Any], url: str) -> str | None:
    values = extension_values(body, url)
    return str(values[0]["reference"]) if values else None
