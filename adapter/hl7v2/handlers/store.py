"""Write a message's mapped resources (all but the Patient, which the index owns) through the unit of
work: placeholders (``urn:uuid:``) become real references, every body is stored with its index tokens.

A resource that carries an identifier is kept once per (identifier, patient): the same order, visit or
charge sent again (an A08, a corrected result, a re-sent DFT) becomes a new version of the resource it
was, not a second copy. Identifiers without a system (order, filler, transaction numbers) are scoped
to the sending hospital: its pharmacy and its HIS name one order by the same placer number.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from adapter.fhir.search_params import index_tokens
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import SearchToken, StoredResource
from mappings.v2_to_fhir import Entry

_SCOPE = "urn:dualcode:hl7:{scope}:identifier"


def version_ref(stored: StoredResource) -> str:
    return f"{stored.resource_type}/{stored.id}/_history/{stored.version_id}"


async def store_entries(
    uow: UnitOfWork,
    entries: Iterable[Entry],
    *,
    patient_url: str,
    patient_id: str,
    scope: str,
    primary: frozenset[str],
    new_patient: bool = False,
) -> list[StoredResource]:
    """Store every entry but the Patient (in message order); references to any entry are resolved.

    Resources of a ``primary`` type (what the message is about: ChargeItem for a DFT) replace the one
    with the same identifier. Others only give context (the PV1 of a DFT, the RXE of an RDS): one
    already stored is referenced as it is, never overwritten by the thinner copy.

    ``new_patient``: the Patient was created in this unit of work, so no stored resource can refer to
    it yet and nothing is looked up (on a person's first message, one search less per resource with
    an identifier)."""
    pending = [e for e in entries if e.resource["resourceType"] != "Patient"]
    refs = {patient_url: f"Patient/{patient_id}"}
    found: dict[str, StoredResource | None] = {}
    for entry in pending:  # ids first: a report refers to observations that come after it
        body = entry.resource
        existing = None if new_patient else await _existing(uow, body, patient_id, scope)
        found[entry.full_url] = existing
        refs[entry.full_url] = f"{body['resourceType']}/{existing.id if existing else uuid.uuid4()}"
    stored: list[StoredResource] = []
    for entry in pending:
        body = _resolved(entry.resource, refs)
        body["id"] = refs[entry.full_url].partition("/")[2]
        tokens = _tokens(body, patient_id, scope)
        existing = found[entry.full_url]
        if existing is None:
            saved, _ = await uow.resources.create(body, tokens=tokens)
        elif body["resourceType"] not in primary or _same(existing.body, body):
            saved = existing  # context only, or sent again unchanged: no new version
        else:
            saved, _ = await uow.resources.update(body, tokens=tokens, if_match=existing.version_id)
        stored.append(saved)
    return stored


async def _existing(
    uow: UnitOfWork, body: dict[str, Any], patient_id: str, scope: str
) -> StoredResource | None:
    key = _identifier_tokens(body, scope)[:1]
    if not key:
        return None
    found = await uow.resources.search(
        body["resourceType"], [*key, SearchToken("patient", None, f"Patient/{patient_id}")], limit=1
    )
    return found[0] if found else None


def _identifier_tokens(body: dict[str, Any], scope: str) -> list[SearchToken]:
    scope = _SCOPE.format(scope=scope)
    return [
        SearchToken("identifier", str(i.get("system") or scope), str(i["value"]))
        for i in body.get("identifier", [])
        if i.get("value")
    ]


def _tokens(body: dict[str, Any], patient_id: str, scope: str) -> list[SearchToken]:
    tokens = [*index_tokens(body), *_identifier_tokens(body, scope)]
    tokens.append(SearchToken("patient", None, f"Patient/{patient_id}"))
    return list(dict.fromkeys(tokens))


def _resolved(body: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """A copy of ``body`` (JSON-shaped: dicts, lists, scalars) with placeholder references replaced;
    the mapped entry itself is left as it was. Faster than ``copy.deepcopy``, which keeps a memo
    a JSON tree does not need."""
    return cast(dict[str, Any], _copy_resolving(body, refs))


def _copy_resolving(item: Any, refs: dict[str, str]) -> Any:
    if isinstance(item, dict):
        out = {key: _copy_resolving(value, refs) for key, value in item.items()}
        reference = out.get("reference")
        if isinstance(reference, str) and reference in refs:
            out["reference"] = refs[reference]
        return out
    if isinstance(item, list):
        return [_copy_resolving(value, refs) for value in item]
    return item


def _same(stored: dict[str, Any], body: dict[str, Any]) -> bool:
    return {k: v for k, v in stored.items() if k != "meta"} == {k: v for k, v in body.items() if k != "meta"}
