"""The OperationDefinitions we publish (GET /fhir/OperationDefinition/{id}), listed in the
CapabilityStatement next to the resource they act on."""

from __future__ import annotations

from typing import Any

BASE = "urn:dualcode:fhir:OperationDefinition"


def _param(name: str, use: str, type_: str, low: int, high: str, doc: str) -> dict[str, Any]:
    entry = {"name": name, "use": use, "min": low, "max": high, "documentation": doc}
    if type_:
        entry["type"] = type_
    return entry


def _definition(
    code: str, title: str, description: str, *, affects: bool, params: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "resourceType": "OperationDefinition",
        "id": f"Patient-{code}",
        "url": f"{BASE}/Patient-{code}",
        "name": title.replace(" ", ""),
        "title": title,
        "status": "active",
        "kind": "operation",
        "affectsState": affects,
        "description": description,
        "code": code,
        "resource": ["Patient"],
        "system": False,
        "type": True,
        "instance": False,
        "parameter": params,
    }


DEFINITIONS: dict[str, dict[str, Any]] = {
    "resolve-card": _definition(
        "resolve-card",
        "Resolve card",
        "Any card or code a resident shows (eSSC, EHC, SSC reader line, NHSA e-voucher, ID number "
        "with name) becomes the one Patient with every identifier, the person's Coverage, and the "
        "scanning institution's own patient number (created on first visit).",
        affects=True,
        params=[
            _param("code", "in", "string", 1, "1", "The scanned code, reader line or ID number"),
            _param(
                "kind",
                "in",
                "code",
                0,
                "1",
                "essc | ehc | ssc | idcard | nhsa; detected from the shape when absent",
            ),
            _param(
                "organization", "in", "string", 0, "1", "Scanning institution code; defaults to the client's"
            ),
            _param(
                "step",
                "in",
                "code",
                0,
                "1",
                "registration | payment | treatment | pharmacy | settlement | sampling",
            ),
            _param("name", "in", "string", 0, "1", "With kind idcard: the holder's name"),
            _param("patient", "out", "Patient", 1, "1", "The Patient"),
            _param("coverage", "out", "Coverage", 0, "*", "The person's Coverage (active or not)"),
            _param("localIdentifier", "out", "Identifier", 0, "1", "The institution's own patient number"),
            _param("created", "out", "boolean", 1, "1", "Whether this scan created the Patient"),
            _param(
                "issues", "out", "OperationOutcome", 0, "1", "Notes for the scanner, e.g. no active insurance"
            ),
        ],
    ),
    "ihe-pix": _definition(
        "ihe-pix",
        "IHE PIXm query",
        "IHE PIXm ITI-83: the identifiers and the Patient for a source identifier.",
        affects=False,
        params=[
            _param("sourceIdentifier", "in", "Identifier", 1, "1", "system|value (as a token in the query)"),
            _param("targetSystem", "in", "uri", 0, "*", "Limit the answer to these identifier systems"),
            _param("targetIdentifier", "out", "Identifier", 0, "*", "The person's identifiers"),
            _param("targetId", "out", "Reference", 0, "1", "The Patient"),
        ],
    ),
    "match": _definition(
        "match",
        "Patient match",
        "IHE PDQm ITI-119: scored candidates for a Patient (pinyin-aware), graded certain / probable "
        "/ possible.",
        affects=False,
        params=[
            _param("resource", "in", "Patient", 1, "1", "The Patient to match"),
            _param("onlyCertainMatches", "in", "boolean", 0, "1", "Only certain matches"),
            _param("count", "in", "integer", 0, "1", "At most this many (1..100, default 10)"),
            _param("return", "out", "Bundle", 1, "1", "searchset Bundle with search.score and match-grade"),
        ],
    ),
    "merge": _definition(
        "merge",
        "Patient merge",
        "Merge a duplicate (source) into the surviving Patient (target); admin only. Undo with $unmerge.",
        affects=True,
        params=[
            _param("source", "in", "Reference", 1, "1", "The duplicate Patient"),
            _param("target", "in", "Reference", 1, "1", "The surviving Patient"),
            _param("reason", "in", "string", 0, "1", "Why"),
            _param(
                "provenance",
                "out",
                "Reference",
                1,
                "1",
                "The Provenance recording the merge (the undo handle)",
            ),
        ],
    ),
    "unmerge": _definition(
        "unmerge",
        "Patient unmerge",
        "Undo a merge recorded by a Provenance; admin only.",
        affects=True,
        params=[
            _param("provenance", "in", "Reference", 1, "1", "The Provenance $merge returned"),
            _param("reason", "in", "string", 0, "1", "Why"),
            _param("provenance", "out", "Reference", 1, "1", "The Provenance recording the unmerge"),
        ],
    ),
}
