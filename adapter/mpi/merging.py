"""Merge two Patients of one person, and undo it, with history (IHE PMIR style).

Merge: the source becomes active=false with link replaced-by -> target, the target gets link
replaces -> source and the source's identifiers; every identity link of the source moves to the
target (``relink``); a Provenance records who, why, the versions and the moved identifiers.
Unmerge reads that Provenance and puts back exactly the links that moved (links added to the target
since stay there), reactivates the source and takes the copied identifiers off the target.
"""

from __future__ import annotations

from typing import Any

from adapter.errors import InvalidRequest
from adapter.mpi import events
from adapter.mpi.patients import replaced_by, save_patient
from adapter.mpi.provenance import (
    COPIED_IDENTIFIER,
    MERGE_SOURCE,
    MERGE_TARGET,
    MOVED_IDENTIFIER,
    identifiers_in,
    provenance,
    provenance_tokens,
    reference_in,
)
from adapter.mpi.values import MergeResult
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import StoredResource


async def merge_patients(
    uow: UnitOfWork, source_id: str, target_id: str, *, actor: str, reason: str
) -> MergeResult:
    if source_id == target_id:
        raise InvalidRequest("a patient cannot be merged into itself")
    source = await uow.resources.read("Patient", source_id)
    target = await uow.resources.read("Patient", target_id)
    for stored, role in ((source, "source"), (target, "target")):
        if not stored.body.get("active", True):
            raise InvalidRequest(f"the {role} patient is inactive (merged already?)")
    moved = [(link.system, link.value) for link in await uow.identities.links_for(source_id)]
    count = await uow.identities.relink(source_id, target_id)
    present = {(i.get("system"), i.get("value")) for i in target.body.get("identifier", [])}
    copied = [
        i for i in source.body.get("identifier", []) if (i.get("system"), i.get("value")) not in present
    ]
    target_body = {
        **target.body,
        "identifier": [*target.body.get("identifier", []), *copied],
        "link": [
            *target.body.get("link", []),
            {"other": {"reference": f"Patient/{source_id}"}, "type": "replaces"},
        ],
    }
    source_body = {
        **source.body,
        "active": False,
        "link": [
            *source.body.get("link", []),
            {"other": {"reference": f"Patient/{target_id}"}, "type": "replaced-by"},
        ],
    }
    new_source = await save_patient(uow, source_body, if_match=source.version_id)
    new_target = await save_patient(uow, target_body, if_match=target.version_id)
    copied_pairs = [(str(i["system"]), str(i["value"])) for i in copied if i.get("system") and i.get("value")]
    record = provenance(
        "merge",
        source=new_source,
        target=new_target,
        actor=actor,
        reason=reason,
        moved=moved,
        copied=copied_pairs,
    )
    stored, _ = await uow.resources.create(record, tokens=provenance_tokens(source_id, target_id, "merge"))
    ref = f"Provenance/{stored.id}"
    # Ordered on the source's key: whatever a hospital still has queued for the source goes first.
    await events.publish(
        uow,
        events.PATIENT_MERGED,
        source_id,
        target=f"Patient/{target_id}",
        provenance=ref,
        versionId=new_source.version_id,
    )
    return MergeResult(ref, source_id, target_id, count)


async def unmerge_patients(uow: UnitOfWork, merge_ref: str, *, actor: str, reason: str) -> MergeResult:
    kind, _, merge_id = merge_ref.partition("/")
    if kind != "Provenance" or not merge_id:
        raise InvalidRequest("unmerge takes the merge's Provenance reference")
    record = (await uow.resources.read("Provenance", merge_id)).body
    codes = [c.get("code") for c in record.get("activity", {}).get("coding", [])]
    source_ref, target_ref = reference_in(record, MERGE_SOURCE), reference_in(record, MERGE_TARGET)
    if "merge" not in codes or not source_ref or not target_ref:
        raise InvalidRequest("this Provenance does not record a merge")
    source_id, target_id = source_ref.removeprefix("Patient/"), target_ref.removeprefix("Patient/")
    source = await uow.resources.read("Patient", source_id)
    target = await uow.resources.read("Patient", target_id)
    if replaced_by(source.body) != target_id:
        raise InvalidRequest("this merge is no longer in force (undone already, or merged on since)")
    back = 0
    for system, value in identifiers_in(record, MOVED_IDENTIFIER):
        link = await uow.identities.find(system, value)
        if link is not None and link.patient_id == target_id:
            await uow.identities.move(system, value, source_id)
            back += 1
    new_source, new_target = await _restore_bodies(uow, source, target, record)
    undo = provenance(
        "unmerge",
        source=new_source,
        target=new_target,
        actor=actor,
        reason=reason,
        moved=identifiers_in(record, MOVED_IDENTIFIER),
        undoes=merge_ref,
    )
    stored, _ = await uow.resources.create(undo, tokens=provenance_tokens(source_id, target_id, "unmerge"))
    ref = f"Provenance/{stored.id}"
    await events.publish(
        uow,
        events.PATIENT_UNMERGED,
        source_id,
        target=f"Patient/{target_id}",
        provenance=ref,
        undoes=merge_ref,
    )
    return MergeResult(ref, source_id, target_id, back)


async def _restore_bodies(
    uow: UnitOfWork, source: StoredResource, target: StoredResource, record: dict[str, Any]
) -> tuple[StoredResource, StoredResource]:
    copied = set(identifiers_in(record, COPIED_IDENTIFIER))
    source_body = {
        **source.body,
        "active": True,
        "link": [link for link in source.body.get("link", []) if not _is(link, "replaced-by", target.id)],
    }
    target_body = {
        **target.body,
        "identifier": [
            i for i in target.body.get("identifier", []) if (i.get("system"), i.get("value")) not in copied
        ],
        "link": [link for link in target.body.get("link", []) if not _is(link, "replaces", source.id)],
    }
    for body in (source_body, target_body):
        if not body["link"]:
            del body["link"]
    new_source = await save_patient(uow, source_body, if_match=source.version_id)
    new_target = await save_patient(uow, target_body, if_match=target.version_id)
    return new_source, new_target


def _is(link: dict[str, Any], kind: str, other_id: str) -> bool:
    return link.get("type") == kind and link.get("other", {}).get("reference") == f"Patient/{other_id}"
