"""Resolution: facts -> the one Patient, created or updated, every identifier linked, in one unit of work.

Deterministic: the anchor (national ID, or certificate type + number, else the first identifier) and
any already-linked identifier decide. No guessing on demographics here (that is ``match``).

Two first scans of one person at once: the anchor is linked to a fresh id *before* the Patient is
created. The identity link is unique, so exactly one unit of work wins; the other gets DuplicateKey
(its unit of work stays usable), looks again and resolves to the winner's Patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from adapter.errors import DuplicateKey, InvalidRequest, ServiceUnavailable, VersionConflict
from adapter.mpi import events
from adapter.mpi.patients import create_patient, read_surviving, save_patient
from adapter.mpi.review import DEMOGRAPHIC_CONFLICT, IDENTIFIER_CONFLICT, open_review
from adapter.mpi.values import Resolution, ReviewFlag
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import IdentityLink, StoredResource
from mappings.codes import IdentifierSystems
from mappings.person import (
    FactConflict,
    FactIdentifier,
    PersonFacts,
    merge_facts_into_patient,
    patient_from_facts,
)

MAX_ATTEMPTS: Final = 4  # each retry follows a lost race; more than a few means something is wrong
Key = tuple[str, str]


def _key(identifier: FactIdentifier) -> Key:
    return identifier.system, identifier.value


async def resolve_facts(
    uow: UnitOfWork, facts: PersonFacts, systems: IdentifierSystems
) -> tuple[Resolution, bool]:
    """The Resolution and whether the Patient changed (for the audit action)."""
    identifiers = facts.all_identifiers(systems)
    if not identifiers:
        raise InvalidRequest("resolving a person needs an identifier; use demographic matching instead")
    anchor = facts.anchor(systems) or identifiers[0]
    for _ in range(MAX_ATTEMPTS):
        owners = await _owners(uow, identifiers)
        owner = owners.get(_key(anchor)) or next(
            (owners[k] for k in map(_key, identifiers) if k in owners), None
        )
        try:
            if owner is None:
                patient_id = str(uuid.uuid4())
                await uow.identities.link(anchor.system, anchor.value, patient_id)
                return await _create(uow, facts, systems, patient_id, anchor, identifiers), True
            return await _update(uow, facts, systems, owner.patient_id, owners, identifiers)
        except (DuplicateKey, VersionConflict):
            continue  # another unit of work won a race meanwhile: look again and follow it
    raise ServiceUnavailable("the patient index is busy with this person; retry")


async def _owners(uow: UnitOfWork, identifiers: Sequence[FactIdentifier]) -> dict[Key, IdentityLink]:
    """Who holds each identifier: one indexed lookup for all of them (a scan carries a handful), a
    cost that does not grow with the population on any store. The owner's Patient is read next
    (``_update``): read along in the same statement (``read_ahead``)."""
    return await uow.identities.find_many([_key(i) for i in identifiers], read_ahead=True)


def _without(facts: PersonFacts, dropped: set[Key], systems: IdentifierSystems) -> PersonFacts:
    """The facts minus identifiers that belong to someone else (those go to review instead)."""
    if not dropped:  # the common case: no copy (``replace`` validates the facts again)
        return facts
    kept = tuple(i for i in facts.identifiers if _key(i) not in dropped)
    cert = facts.certificate_identifier(systems)
    id_number = None if cert is not None and _key(cert) in dropped else facts.id_number
    return replace(facts, identifiers=kept, id_number=id_number)


async def _create(
    uow: UnitOfWork,
    facts: PersonFacts,
    systems: IdentifierSystems,
    patient_id: str,
    anchor: FactIdentifier,
    identifiers: Sequence[FactIdentifier],
) -> Resolution:
    foreign: list[FactConflict] = []
    dropped: set[Key] = set()
    linked: list[FactIdentifier] = [anchor]
    for identifier in identifiers:
        if identifier == anchor:
            continue
        try:
            await uow.identities.link(identifier.system, identifier.value, patient_id)
            linked.append(identifier)
        except DuplicateKey:  # linked to another Patient since we looked: never move it silently
            dropped.add(_key(identifier))
            foreign.append(_foreign_conflict(identifier, facts.source))
    stored = await create_patient(
        uow, patient_from_facts(_without(facts, dropped, systems), systems, patient_id=patient_id)
    )
    flags: list[ReviewFlag] = []
    if foreign:
        flags.append(await open_review(uow, patient_id, IDENTIFIER_CONFLICT, foreign))
    await events.publish(
        uow, events.PATIENT_CREATED, patient_id, versionId=stored.version_id, source=facts.source
    )
    return Resolution(
        stored.body, patient_id, True, tuple(i.key for i in linked), tuple(flags), stored.version_id
    )


def _foreign_conflict(identifier: FactIdentifier, source: str) -> FactConflict:
    return FactConflict(
        f"identifier:{identifier.system}", "linked to another patient", identifier.value, source
    )


async def _update(
    uow: UnitOfWork,
    facts: PersonFacts,
    systems: IdentifierSystems,
    owner_id: str,
    owners: dict[Key, IdentityLink],
    identifiers: Sequence[FactIdentifier],
) -> tuple[Resolution, bool]:
    stored = await read_surviving(uow, owner_id)
    patient_id = stored.id
    foreign = [
        i
        for i in identifiers
        if _key(i) in owners and owners[_key(i)].patient_id not in (owner_id, patient_id)
    ]
    merged, conflicts = merge_facts_into_patient(
        stored.body, _without(facts, {_key(i) for i in foreign}, systems), systems=systems
    )
    id_conflicts = [
        *(
            FactConflict(
                f"identifier:{i.system}", f"Patient/{owners[_key(i)].patient_id}", i.value, facts.source
            )
            for i in foreign
        ),
        *(c for c in conflicts if c.field.startswith("identifier:")),
    ]
    demographic = [c for c in conflicts if not c.field.startswith("identifier:")]
    flags: list[ReviewFlag] = []
    if id_conflicts:
        flags.append(await open_review(uow, patient_id, IDENTIFIER_CONFLICT, id_conflicts))
    if demographic:
        flags.append(await open_review(uow, patient_id, DEMOGRAPHIC_CONFLICT, demographic))
    # A source that disagrees on who the person is adds nothing to the Patient; its new identifiers
    # are linked flagged (they still resolve here, and the review sees them).
    suspect = bool(demographic)
    note = f"source {facts.source} disagrees with the Patient; see {flags[-1].review}" if suspect else None
    linked: list[tuple[FactIdentifier, bool]] = []
    for identifier in _to_link(identifiers, owners, stored.body, merged, suspect=suspect):
        link = await uow.identities.link(
            identifier.system, identifier.value, patient_id, flagged=suspect, note=note
        )
        linked.append((identifier, link.flagged))
    changed = not suspect and merged != stored.body
    if changed:
        stored = await save_patient(uow, merged, if_match=stored.version_id)
        await events.publish(
            uow, events.PATIENT_UPDATED, patient_id, versionId=stored.version_id, source=facts.source
        )
    await events.publish_links(uow, patient_id, stored.version_id, linked)
    settled = not changed and not linked and not flags and _all_held(identifiers, owners, patient_id)
    return _resolution(stored, [i for i, _ in linked], flags, settled=settled), changed


def _all_held(
    identifiers: Sequence[FactIdentifier], owners: dict[Key, IdentityLink], patient_id: str
) -> bool:
    """Every identifier linked, unflagged, to this Patient (not to one merged into it)."""
    for identifier in identifiers:
        link = owners.get(_key(identifier))
        if link is None or link.patient_id != patient_id or link.flagged:
            return False
    return True


def _to_link(
    identifiers: Sequence[FactIdentifier],
    owners: dict[Key, IdentityLink],
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    suspect: bool,
) -> list[FactIdentifier]:
    """Identifiers this call links: the unlinked ones the merge put on the body; and, when the body
    takes them now, ones already linked here but not yet on it (a retry after a lost update, or a
    flagged link that a consistent source now confirms)."""
    on_before = {(i.get("system"), i.get("value")) for i in before.get("identifier", [])}
    on_after = {(i.get("system"), i.get("value")) for i in after.get("identifier", [])}
    return [
        i
        for i in identifiers
        if _key(i) in on_after and (_key(i) not in owners or (not suspect and _key(i) not in on_before))
    ]


def _resolution(
    stored: StoredResource,
    linked: Sequence[FactIdentifier],
    flags: Sequence[ReviewFlag],
    *,
    settled: bool = False,
) -> Resolution:
    keys = tuple(i.key for i in linked)
    return Resolution(stored.body, stored.id, False, keys, tuple(flags), stored.version_id, settled)
