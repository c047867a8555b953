"""Demographic matching for records without a national ID: blocking -> scoring -> grades.

Blocking asks the repository for Patients sharing a blind-indexed block key with the probe (birth
date + sex; pinyin + birth year; phone; pinyin alone when the probe has no birth date), a bounded
number per key. Scoring (``scoring``) grades each. An identifier already linked is a certain match.
"""

from __future__ import annotations

from typing import Final

from adapter.mpi.patients import read_surviving
from adapter.mpi.phonetics import pinyin_keys
from adapter.mpi.scoring import MatchGrade, Probe, score
from adapter.mpi.tokens import BLOCK_PARAM, block_keys
from adapter.mpi.values import MatchCandidate
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import SearchToken, StoredResource
from mappings.codes import IdentifierSystems
from mappings.person import PersonFacts

PER_BLOCK: Final = 50  # candidates read per block key: a very common name must not scan a city


def probe_tokens(probe: Probe) -> list[SearchToken]:
    keys = block_keys(name=probe.name, birth_date=probe.birth_date, sex=probe.sex, phones=probe.phones)
    tokens = [SearchToken(BLOCK_PARAM, None, key) for key in keys]
    if probe.birth_date is None and probe.name:
        tokens.extend(SearchToken("name", None, key) for key in pinyin_keys(probe.name))
    return tokens


async def match_facts(
    uow: UnitOfWork, facts: PersonFacts, systems: IdentifierSystems, *, limit: int = 10
) -> list[MatchCandidate]:
    """Candidates best first; certain before probable before possible, then by score."""
    found: dict[str, MatchCandidate] = {}
    for identifier in facts.all_identifiers(systems):
        link = await uow.identities.find(identifier.system, identifier.value)
        if link is not None and link.patient_id not in found:
            stored = await read_surviving(uow, link.patient_id)
            found[stored.id] = MatchCandidate(
                stored.id, stored.body, 1.0, MatchGrade.CERTAIN, (("identifier", 1.0),)
            )
    probe = Probe.of_facts(facts)
    for stored in await _blocked(uow, probe):
        if stored.id in found or not stored.body.get("active", True):
            continue
        result = score(probe, Probe.of_patient(stored.body))
        if result.grade is not None:
            found[stored.id] = MatchCandidate(
                stored.id, stored.body, result.total, result.grade, result.parts
            )
    order = {MatchGrade.CERTAIN: 0, MatchGrade.PROBABLE: 1, MatchGrade.POSSIBLE: 2}
    ranked = sorted(found.values(), key=lambda c: (order[c.grade], -c.score, c.patient_id))
    return ranked[:limit]


async def _blocked(uow: UnitOfWork, probe: Probe) -> list[StoredResource]:
    seen: dict[str, StoredResource] = {}
    for token in probe_tokens(probe):
        for stored in await uow.resources.search("Patient", [token], limit=PER_BLOCK):
            seen.setdefault(stored.id, stored)
    return list(seen.values())
