"""The CPU work of a bulk import, done off the writing process: parse each line, build the Patient and
its Coverages, seal (AES-GCM) and hash (blind index) everything a SQL store writes for them.

``dualcode mpi import`` runs ``prepare_lines`` in worker processes (``init_worker`` gives each its
own Vault and identifier systems); the writing process then only classifies people against the
index and writes the sealed rows (``BulkImporter.import_sealed``). Everything here is a pure
function of the line, the vault and the clock reading of the chunk: a person the writer cannot
create as prepared (already known, an identifier taken meanwhile) is parsed again from ``line`` and
takes the ordinary path, so preparing never decides anything.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple

from adapter.mpi.coverages import coverage_tokens, coverages_for, insured_regions
from adapter.mpi.import_records import ImportRecord, parse_line
from adapter.mpi.tokens import patient_index_tokens
from adapter.storage.sql.bulk import SealedLink, SealedResource, TokenDigests, seal_link, seal_resource
from adapter.storage.vault import Vault
from mappings.codes import IdentifierSystems
from mappings.person import FactIdentifier, patient_from_facts

# Token params whose keys repeat from person to person (measured on the sandbox population: birth
# date 52%, name parts 55%, gender and Coverage type ~100%); their digests are remembered.
REPEATING_PARAMS: Final = ("name", "birthdate", "gender", "type")


class PreparedPerson(NamedTuple):
    """One line, ready to write as a new person: a link per identifier (``link_order``: the anchor
    first), the Patient then its Coverages, and the payor regions they name. A NamedTuple, as
    immutable as a frozen dataclass and several times cheaper to send between processes."""

    number: int  # line number in the file
    line: bytes = b""  # the line itself, for the one-by-one path
    patient_id: str = ""
    links: tuple[SealedLink, ...] = ()
    resources: tuple[SealedResource, ...] = ()
    regions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    """Consecutive lines of the file; every resource is stamped ``last_updated``."""

    people: tuple[PreparedPerson, ...]
    rejected: tuple[tuple[int, str], ...]  # (line number, message without personal values)
    last_updated: datetime
    lines: int  # lines read (people and rejected; blank lines are not counted)

    def __reduce__(self) -> tuple[Callable[..., PreparedChunk], tuple[Any, ...]]:
        """Pickled (worker -> writer) as plain nested tuples: unpickling named ones calls a Python
        ``__new__`` per object, ~9 a person; rebuilding them with ``_make`` costs less."""
        people = tuple(
            (
                p.number,
                p.line,
                p.patient_id,
                tuple(map(tuple, p.links)),
                tuple(map(tuple, p.resources)),
                p.regions,
            )
            for p in self.people
        )
        return _chunk_from_wire, (people, self.rejected, self.last_updated, self.lines)


def _chunk_from_wire(
    people: tuple[tuple[Any, ...], ...],
    rejected: tuple[tuple[int, str], ...],
    last_updated: datetime,
    lines: int,
) -> PreparedChunk:
    link, resource = SealedLink._make, SealedResource._make
    rebuilt = tuple(
        PreparedPerson(
            number, line, patient_id, tuple(map(link, links)), tuple(map(resource, sealed)), regions
        )
        for number, line, patient_id, links, sealed, regions in people
    )
    return PreparedChunk(rebuilt, rejected, last_updated, lines)


def link_order(record: ImportRecord, systems: IdentifierSystems) -> tuple[FactIdentifier, ...]:
    """Every identifier of the person, the anchor (as ``resolve`` anchors) first."""
    identifiers = record.facts.all_identifiers(systems)
    anchor = record.facts.anchor(systems) or identifiers[0]
    return (anchor, *(i for i in identifiers if i != anchor))


class Preparer:
    def __init__(self, vault: Vault, *, systems: IdentifierSystems, source: str, today: date) -> None:
        self._vault = vault
        self._digests = TokenDigests(vault, repeating=REPEATING_PARAMS)
        self._systems = systems
        self._source = source
        self._today = today

    def parse(self, line: bytes) -> ImportRecord:
        return parse_line(line, systems=self._systems, source=self._source, today=self._today)

    def prepare(self, lines: Sequence[tuple[int, bytes]]) -> PreparedChunk:
        now = datetime.now(UTC)
        people: list[PreparedPerson] = []
        rejected: list[tuple[int, str]] = []
        for number, line in lines:
            try:
                record = self.parse(line)
            except ValueError as error:
                rejected.append((number, str(error)))
                continue
            people.append(self._person(number, line, record, now))
        return PreparedChunk(tuple(people), tuple(rejected), now, len(lines))

    def _person(self, number: int, line: bytes, record: ImportRecord, now: datetime) -> PreparedPerson:
        vault, systems, digests = self._vault, self._systems, self._digests
        patient_id = str(uuid.uuid4())
        links = tuple(seal_link(vault, i.system, i.value) for i in link_order(record, systems))
        body = patient_from_facts(record.facts, systems, patient_id=patient_id)
        tokens = patient_index_tokens(body)
        sealed = [seal_resource(vault, body, tokens, last_updated=now, digests=digests)]
        regions: tuple[str, ...] = ()
        if record.insurance and record.psn_no:
            coverages = coverages_for(patient_id, record.insurance, psn_no=record.psn_no, systems=systems)
            regions = tuple(sorted(insured_regions(coverages)))
            sealed += [
                seal_resource(vault, c, coverage_tokens(c), last_updated=now, digests=digests)
                for c in coverages
            ]
        return PreparedPerson(number, line, patient_id, links, tuple(sealed), regions)


def relax_gc() -> None:
    """A bulk import allocates millions of short-lived, acyclic objects; the default thresholds run the
    cycle collector over all of them again and again (about 15% of the import's time). The writing
    process and each worker call this."""
    gc.freeze()
    gc.set_threshold(200_000, 100, 1000)


# One Preparer per worker process, made by the pool's initializer.
_preparer: Preparer | None = None


def init_worker(
    vault_factory: Callable[[], Vault],
    systems_factory: Callable[[], IdentifierSystems],
    source: str,
    today: date,
) -> None:
    """Pool initializer; the factories are picklable callables (e.g. ``partial(load_vault, settings)``
    and ``default_identifier_systems``): key material and code tables are loaded in the worker."""
    global _preparer
    relax_gc()
    _preparer = Preparer(vault_factory(), systems=systems_factory(), source=source, today=today)


def prepare_lines(lines: Sequence[tuple[int, bytes]]) -> PreparedChunk:
    if _preparer is None:
        raise RuntimeError("init_worker was not called in this process")
    return _preparer.prepare(lines)
