"""Bulk import of people into the patient index, with the resolve rules of ``PatientIndex``.

A batch is one unit of work. Its people are sorted by what the index already holds (one
``find_many`` for every identifier of the batch):

* **new** (no identifier linked, none shared with an earlier person of the batch): the anchor (the
  certificate, as ``resolve`` anchors) is linked first with ``link_many``, then the other
  identifiers, then Patients and Coverages are written with ``create_many``. An identifier another
  unit of work linked meanwhile is left off the Patient and goes to review, exactly as ``resolve``
  does; a lost anchor sends the person down the one-by-one path.
* **known** (every identifier linked to one Patient): the Patient is read and the facts folded in;
  when that changes nothing the person counts as existing and nothing is written (re-imports are
  idempotent). Anything else (new facts, conflicts) takes the one-by-one path.
* **the rest** (partly linked, linked to several Patients, or sharing an identifier with an earlier
  person of the batch): ``PatientIndex.resolve`` one by one, after the bulk writes, so the result
  is the one resolve gives, review Tasks and outbox events included.

Bulk-created Patients are not validated against the FHIR model one by one: ``patient_from_facts``
builds them from checked codes and its output is tested to validate (tests/unit/mappings). They
publish no per-patient outbox event (an initial load is not news for hospitals; they query PIX);
each batch writes one audit record with its counts instead of one per person.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from adapter.errors import InvalidRequest
from adapter.mpi.coverages import (
    coverage_tokens,
    coverages_for,
    ensure_coverages,
    ensure_payors,
    insured_regions,
)
from adapter.mpi.import_prepare import PreparedChunk, PreparedPerson, link_order
from adapter.mpi.import_records import ImportRecord
from adapter.mpi.patients import read_surviving
from adapter.mpi.review import IDENTIFIER_CONFLICT, open_review
from adapter.mpi.service import PatientIndex
from adapter.mpi.tokens import patient_index_tokens
from adapter.security.audit import Auditor
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import NewLink, NewResource
from adapter.storage.sql.bulk import SealedResource, SealedWriter
from mappings.person import FactConflict, FactIdentifier, merge_facts_into_patient, patient_from_facts

Key = tuple[str, str]


def _key(identifier: FactIdentifier) -> Key:
    return identifier.system, identifier.value


@dataclass
class ImportSummary:
    """What an import did. ``conflicts`` counts people whose data went to review (identifier or
    demographic conflict); they are also counted as created or existing."""

    created: int = 0
    existing: int = 0
    conflicts: int = 0
    rejected: int = 0
    coverages: int = 0
    seconds: float = 0.0

    @property
    def people(self) -> int:
        return self.created + self.existing + self.rejected

    @property
    def people_per_s(self) -> float:
        return self.people / self.seconds if self.seconds > 0 else 0.0

    def add(self, other: ImportSummary) -> None:
        self.created += other.created
        self.existing += other.existing
        self.conflicts += other.conflicts
        self.rejected += other.rejected
        self.coverages += other.coverages

    def as_dict(self) -> dict[str, int | float]:
        return {
            "created": self.created,
            "existing": self.existing,
            "conflicts": self.conflicts,
            "rejected": self.rejected,
            "coverages": self.coverages,
            "seconds": round(self.seconds, 3),
            "people_per_s": round(self.people_per_s, 1),
        }


@dataclass
class _New:
    record: ImportRecord
    identifiers: tuple[FactIdentifier, ...]
    anchor: FactIdentifier
    patient_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    lost: list[FactIdentifier] = field(default_factory=list)


class BulkImporter:
    """Imports batches of ImportRecords; each ``import_batch`` call works in the caller's unit of work."""

    def __init__(
        self, index: PatientIndex, *, actor: str = "bulk-import", auditor: Auditor | None = None
    ) -> None:
        self._index = index
        self._systems = index.systems
        self._actor = actor
        self._auditor = auditor or Auditor()
        self._payors: set[str] = set()  # regions whose payor Organization exists

    async def import_batch(self, uow: UnitOfWork, records: Sequence[ImportRecord]) -> ImportSummary:
        summary = ImportSummary()
        known_payors = set(self._payors)
        fresh, known, slow = await self._sort(uow, records)
        lost_anchor = await self._create(uow, fresh, summary, known_payors)
        for record, patient_id in known:
            if not await self._unchanged(uow, record, patient_id):
                slow.append(record)
                continue
            summary.existing += 1
        for record in [*lost_anchor, *slow]:
            await self._resolve_one(uow, record, summary, known_payors)
        await self._audit(uow, summary)
        self._payors = known_payors  # only now: a batch that rolls back forgets what it created
        return summary

    async def import_sealed(
        self,
        uow: UnitOfWork,
        writer: SealedWriter,
        chunks: Sequence[PreparedChunk],
        *,
        parse: Callable[[bytes], ImportRecord],
    ) -> ImportSummary:
        """``import_batch`` for lines prepared in worker processes (``import_prepare``): the same
        sorting and outcomes, but new people are written from their sealed rows. Each chunk is sorted
        after the previous chunk's writes, so a person repeated across chunks is found like one
        repeated across batches. ``parse`` reads a line again for the people of the one-by-one path.

        The search tokens of new people are deferred (``SealedWriter.create``): they are found by
        identifier (identity links) and read by id at once, by search after ``merge_tokens``, which
        runs here before any one-by-one resolution (it searches) and at the end of the import."""
        summary = ImportSummary()
        payors = set(self._payors)
        known: list[tuple[ImportRecord, str]] = []
        slow: list[ImportRecord] = []
        for chunk in chunks:
            summary.rejected += len(chunk.rejected)
            fresh = await self._sort_sealed(writer, chunk.people, known, slow, parse)
            slow[:0] = await self._create_sealed(uow, writer, fresh, chunk, summary, payors, parse)
        for record, patient_id in known:
            if not await self._unchanged(uow, record, patient_id):
                slow.append(record)
                continue
            summary.existing += 1
        if slow:
            await writer.merge_tokens()  # resolve searches (matching): it must see everyone
        for record in slow:
            await self._resolve_one(uow, record, summary, payors)
        await self._audit(uow, summary)
        self._payors = payors
        return summary

    async def _sort_sealed(
        self,
        writer: SealedWriter,
        people: Sequence[PreparedPerson],
        known: list[tuple[ImportRecord, str]],
        slow: list[ImportRecord],
        parse: Callable[[bytes], ImportRecord],
    ) -> list[PreparedPerson]:
        owners = await writer.holders(link.value_hash for p in people for link in p.links)
        fresh: list[PreparedPerson] = []
        seen: set[str] = set()
        for person in people:
            hashes = [link.value_hash for link in person.links]
            holders = {owners[h] for h in hashes if h in owners}
            if not holders and not any(h in seen for h in hashes):
                fresh.append(person)
            elif (
                len(holders) == 1 and all(h in owners for h in hashes) and not any(h in seen for h in hashes)
            ):
                known.append((parse(person.line), holders.pop()))
            else:
                slow.append(parse(person.line))
            seen.update(hashes)
        return fresh

    async def _create_sealed(
        self,
        uow: UnitOfWork,
        writer: SealedWriter,
        fresh: list[PreparedPerson],
        chunk: PreparedChunk,
        summary: ImportSummary,
        payors: set[str],
        parse: Callable[[bytes], ImportRecord],
    ) -> list[ImportRecord]:
        """``_create`` with sealed rows; returns the records whose anchor another unit of work took."""
        now = chunk.last_updated
        fresh = sorted(fresh, key=lambda p: p.links[0].value_hash)  # one lock order (PostgreSQL)
        anchors = await writer.link([(p.links[0], p.patient_id) for p in fresh], now=now)
        won = [p for p in fresh if anchors[p.links[0].value_hash] == p.patient_id]
        lost_anchor = [parse(p.line) for p in fresh if anchors[p.links[0].value_hash] != p.patient_id]
        others = sorted(((link, p) for p in won for link in p.links[1:]), key=lambda o: o[0].value_hash)
        held = await writer.link([(link, p.patient_id) for link, p in others], now=now)
        lost: dict[str, set[str]] = {}
        for link, person in others:
            if held[link.value_hash] != person.patient_id:
                lost.setdefault(person.patient_id, set()).add(link.value_hash)
        sealed: list[SealedResource] = []
        rebuilt: list[_New] = []
        regions: set[str] = set()
        for person in won:
            regions.update(person.regions)
            summary.coverages += len(person.resources) - 1
            if person.patient_id not in lost:
                sealed.extend(person.resources)
                continue
            # Identifiers another Patient holds stay off this one: build it again without them.
            record = parse(person.line)
            ids = link_order(record, self._systems)
            taken = [
                i
                for i, link in zip(ids, person.links, strict=True)
                if link.value_hash in lost[person.patient_id]
            ]
            rebuilt.append(_New(record, ids, ids[0], person.patient_id, taken))
        await ensure_payors(uow, regions, payors)
        await writer.create(sealed, last_updated=now, defer_tokens=True)
        items: list[NewResource] = []
        for again in rebuilt:
            items.append(self._patient(again))
            coverages = (
                coverages_for(
                    again.patient_id,
                    again.record.insurance,
                    psn_no=again.record.psn_no,
                    systems=self._systems,
                )
                if again.record.insurance and again.record.psn_no
                else []
            )
            items.extend(NewResource(c, coverage_tokens(c)) for c in coverages)
        await uow.resources.create_many(items)
        for again in rebuilt:
            conflicts = [_foreign(i, again.record.facts.source) for i in again.lost]
            await open_review(uow, again.patient_id, IDENTIFIER_CONFLICT, conflicts)
            summary.conflicts += 1
        summary.created += len(won)
        return lost_anchor

    async def _audit(self, uow: UnitOfWork, summary: ImportSummary) -> None:
        await self._auditor.record(
            uow,
            agent=self._actor,
            action="C",
            operation="bulk import Patient",
            resource="Patient",
            detail={k: str(v) for k, v in summary.as_dict().items() if k not in ("seconds", "people_per_s")},
        )

    async def _sort(
        self, uow: UnitOfWork, records: Sequence[ImportRecord]
    ) -> tuple[list[_New], list[tuple[ImportRecord, str]], list[ImportRecord]]:
        identifiers = [r.facts.all_identifiers(self._systems) for r in records]
        keys = list(dict.fromkeys(_key(i) for ids in identifiers for i in ids))
        owners = await uow.identities.find_many(keys)
        fresh: list[_New] = []
        known: list[tuple[ImportRecord, str]] = []
        slow: list[ImportRecord] = []
        seen: set[Key] = set()  # identifiers of earlier people in this batch
        for record, ids in zip(records, identifiers, strict=True):
            record_keys = [_key(i) for i in ids]
            holders = {owners[k].patient_id for k in record_keys if k in owners}
            if any(k in seen for k in record_keys):
                slow.append(record)  # after the bulk write, so it sees the earlier person's links
            elif not holders:
                fresh.append(_New(record, ids, record.facts.anchor(self._systems) or ids[0]))
            elif len(holders) == 1 and all(k in owners for k in record_keys):
                known.append((record, holders.pop()))
            else:
                slow.append(record)
            seen.update(record_keys)
        return fresh, known, slow

    async def _create(
        self, uow: UnitOfWork, fresh: list[_New], summary: ImportSummary, payors: set[str]
    ) -> list[ImportRecord]:
        """Link and create the new people; returns those whose anchor another unit of work took."""
        # Links go in (system, value) order: concurrent imports of overlapping people then wait on
        # each other in one order instead of deadlocking (PostgreSQL).
        fresh = sorted(fresh, key=lambda p: _key(p.anchor))
        anchors = await uow.identities.link_many([NewLink(*_key(p.anchor), p.patient_id) for p in fresh])
        won = [p for p, link in zip(fresh, anchors, strict=True) if link.patient_id == p.patient_id]
        lost = [p.record for p, link in zip(fresh, anchors, strict=True) if link.patient_id != p.patient_id]
        others = sorted(
            ((p, i) for p in won for i in p.identifiers if i != p.anchor), key=lambda o: _key(o[1])
        )
        held = await uow.identities.link_many([NewLink(*_key(i), p.patient_id) for p, i in others])
        for (person, identifier), link in zip(others, held, strict=True):
            if link.patient_id != person.patient_id:
                person.lost.append(identifier)
        items: list[NewResource] = []
        regions: set[str] = set()
        for person in won:
            items.append(self._patient(person))
            if person.record.insurance and person.record.psn_no:
                coverages = coverages_for(
                    person.patient_id,
                    person.record.insurance,
                    psn_no=person.record.psn_no,
                    systems=self._systems,
                )
                regions |= insured_regions(coverages)
                items.extend(NewResource(c, coverage_tokens(c)) for c in coverages)
                summary.coverages += len(coverages)
        await ensure_payors(uow, regions, payors)
        await uow.resources.create_many(items)
        for person in won:
            if person.lost:
                conflicts = [_foreign(i, person.record.facts.source) for i in person.lost]
                await open_review(uow, person.patient_id, IDENTIFIER_CONFLICT, conflicts)
                summary.conflicts += 1
        summary.created += len(won)
        return lost

    def _patient(self, person: _New) -> NewResource:
        facts = person.record.facts
        if person.lost:  # identifiers of another Patient stay off this one (the anchor is never lost)
            dropped = {_key(i) for i in person.lost}
            facts = replace(facts, identifiers=tuple(i for i in facts.identifiers if _key(i) not in dropped))
        body = patient_from_facts(facts, self._systems, patient_id=person.patient_id)
        return NewResource(body, tuple(patient_index_tokens(body)))

    async def _unchanged(self, uow: UnitOfWork, record: ImportRecord, patient_id: str) -> bool:
        stored = await read_surviving(uow, patient_id)
        merged, conflicts = merge_facts_into_patient(stored.body, record.facts, systems=self._systems)
        return not conflicts and merged == stored.body

    async def _resolve_one(
        self, uow: UnitOfWork, record: ImportRecord, summary: ImportSummary, payors: set[str]
    ) -> None:
        try:
            resolution = await self._index.resolve(uow, record.facts, actor=self._actor)
        except InvalidRequest:
            summary.rejected += 1
            return
        if resolution.created:
            summary.created += 1
        else:
            summary.existing += 1
        if resolution.flags:
            summary.conflicts += 1
        if record.insurance and record.psn_no:
            coverages = coverages_for(
                resolution.patient_id, record.insurance, psn_no=record.psn_no, systems=self._systems
            )
            await ensure_payors(uow, insured_regions(coverages), payors)
            summary.coverages += await ensure_coverages(uow, coverages)


def _foreign(identifier: FactIdentifier, source: str) -> FactConflict:
    return FactConflict(
        f"identifier:{identifier.system}", "linked to another patient", identifier.value, source
    )
