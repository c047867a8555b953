"""The patient index on every backend: real concurrency, conflict flags, merge and unmerge, numbers,
matching through blind-indexed block keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest

from adapter.errors import DuplicateKey
from adapter.mpi import (
    DEMOGRAPHIC_CONFLICT,
    IDENTIFIER_LINKED,
    PATIENT_CREATED,
    MatchGrade,
    PatientIndex,
    Resolution,
)
from adapter.storage import IdentityLink, SearchToken, SqlStorage, Storage, Vault
from adapter.storage.sql.identities import SqlIdentityStore
from mappings.codes import IdentifierKey
from mappings.person import identifier_of
from tests.unit.mpi.people import (
    EHC_SYSTEM,
    ID_SYSTEM,
    SYSTEMS,
    demographics,
    ehc_id,
    id_number,
    person,
)

INDEX = PatientIndex(systems=SYSTEMS)


async def _resolve(storage: Storage, serial: int, source: str = "ehc") -> Resolution:
    async with storage.unit_of_work() as uow:
        return await INDEX.resolve(uow, person(serial, source=source), actor=f"client-{source}")


async def _assert_one_patient(storage: Storage, results: list[Resolution]) -> None:
    assert len({r.patient_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    async with storage.unit_of_work() as uow:
        hits = await uow.resources.search("Patient", [SearchToken("identifier", ID_SYSTEM, id_number(7))])
        assert [h.id for h in hits] == [results[0].patient_id]
        assert len(await uow.identities.links_for(results[0].patient_id)) == 2
        created = [e for e in await uow.outbox.list(limit=1000) if e.topic == PATIENT_CREATED]
        assert len(created) == 1
        assert len(await uow.audit.search(patient_id=results[0].patient_id, limit=1000)) == len(results)


async def test_concurrent_first_scans_yield_one_patient(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost = _count_lost_races(monkeypatch)
    sources = ["ehc", "essc", "nhsa", "ssc", "idcard", "fhir", "ehc", "essc"]
    results = await asyncio.gather(*(_resolve(storage, 7, source) for source in sources))
    await _assert_one_patient(storage, list(results))
    if isinstance(storage, SqlStorage) and storage.engine.dialect.name == "postgresql":
        assert lost, "every scan looked before any linked: the losers must have hit the unique link"


def _count_lost_races(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each DuplicateKey the SQL identity store raises (the race really happening)."""
    lost: list[str] = []
    original = SqlIdentityStore.link

    async def link(
        self: SqlIdentityStore, system: str, value: str, patient_id: str, **kw: Any
    ) -> IdentityLink:
        try:
            return await original(self, system, value, patient_id, **kw)
        except DuplicateKey:
            lost.append(patient_id)
            raise

    monkeypatch.setattr(SqlIdentityStore, "link", link)
    return lost


@asynccontextmanager
async def _storages(url: str, vault: Vault, count: int) -> AsyncIterator[list[SqlStorage]]:
    storages = [SqlStorage(url, vault, pool_size=4) for _ in range(count)]
    try:
        yield storages
    finally:
        for each in storages:
            await each.close()


async def test_concurrent_first_scans_from_several_processes_yield_one_patient(
    sql_url: str, vault: Vault
) -> None:
    async with _storages(sql_url, vault, 3) as storages:
        results = await asyncio.gather(*(_resolve(storages[n % 3], 7) for n in range(9)))
        await _assert_one_patient(storages[0], list(results))


async def test_conflicting_sources_are_flagged_on_every_backend(storage: Storage) -> None:
    first = await _resolve(storage, 1)
    async with storage.unit_of_work() as uow:
        found = await INDEX.resolve(
            uow, person(1, source="nhsa", name="张卫", born=date(1990, 1, 1)), actor="a"
        )
        again = await INDEX.resolve(uow, person(1, source="nhsa", name="张卫"), actor="a")
    assert found.patient_id == first.patient_id and found.patient == first.patient
    assert [f.kind for f in found.flags] == [DEMOGRAPHIC_CONFLICT]
    assert again.flags[0].review == found.flags[0].review
    async with storage.unit_of_work() as uow:
        task = await uow.resources.read("Task", found.flags[0].review.removeprefix("Task/"))
        assert task.body["status"] == "requested"
        open_tasks = await uow.resources.search(
            "Task", [SearchToken("patient", None, f"Patient/{first.patient_id}")]
        )
        assert len(open_tasks) == 1


async def test_merge_and_unmerge_on_every_backend(storage: Storage) -> None:
    one, two = await _resolve(storage, 1), await _resolve(storage, 2)
    async with storage.unit_of_work() as uow:
        merge = await INDEX.merge(uow, one.patient_id, two.patient_id, actor="admin", reason="duplicate")
    async with storage.unit_of_work() as uow:
        link = await uow.identities.find(ID_SYSTEM, id_number(1))
        assert link is not None and link.patient_id == two.patient_id
        history = await uow.resources.history("Patient", one.patient_id)
        assert [h.body.get("active") for h in history] == [False, True]
    async with storage.unit_of_work() as uow:
        await INDEX.unmerge(uow, merge.provenance, actor="admin", reason="two people")
    async with storage.unit_of_work() as uow:
        link = await uow.identities.find(ID_SYSTEM, id_number(1))
        assert link is not None and link.patient_id == one.patient_id
        assert (await uow.resources.read("Patient", one.patient_id)).body["active"] is True


async def test_concurrent_first_visits_get_one_local_number(storage: Storage) -> None:
    patient_id = (await _resolve(storage, 3)).patient_id

    async def visit() -> str:
        async with storage.unit_of_work() as uow:
            return await INDEX.assign_local_number(uow, patient_id, "H001")

    numbers = await asyncio.gather(*(visit() for _ in range(5)))
    assert len(set(numbers)) == 1
    async with storage.unit_of_work() as uow:
        body = (await uow.resources.read("Patient", patient_id)).body
        system = SYSTEMS.hospital_patient_number("H001")
        assert [i["value"] for i in body["identifier"] if i["system"] == system] == [numbers[0]]


async def test_matching_through_blind_indexed_block_keys(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        shan = await INDEX.resolve(uow, person(1, name="单丽", male=False, born=date(1985, 6, 1)), actor="a")
        chen = await INDEX.resolve(uow, person(2, name="陳大文", born=date(1960, 12, 1)), actor="a")
    async with storage.unit_of_work() as uow:
        by_sound = await INDEX.match(uow, demographics("善丽", born=date(1985, 6, 1), sex="2"), limit=3)
        by_folding = await INDEX.match(uow, demographics("陈大文", born=date(1960, 12, 1)), limit=3)
        hits = await uow.resources.search("Patient", [SearchToken("name", None, "shanli")])
        ehc = await uow.resources.search("Patient", [SearchToken("identifier", EHC_SYSTEM, ehc_id(1))])
    assert [(c.patient_id, c.grade) for c in by_sound] == [(shan.patient_id, MatchGrade.PROBABLE)]
    assert [(c.patient_id, c.grade) for c in by_folding] == [(chen.patient_id, MatchGrade.PROBABLE)]
    assert [h.id for h in hits] == [shan.patient_id]
    assert [h.id for h in ehc] == [shan.patient_id]


async def test_concurrent_scans_with_different_cards_gather_every_identifier(storage: Storage) -> None:
    """Each platform knows other identifiers: racing first scans still end as one Patient with all
    of them (the losers link theirs to the winner and update it under optimistic locking)."""
    keys = [IdentifierKey.EHC_ID, IdentifierKey.SSC_CARD_NUMBER, IdentifierKey.NHSA_PSN_NO, IdentifierKey.SSN]
    values = {key: f"T{n}X{n:07d}" for n, key in enumerate(keys)}

    async def scan(key: IdentifierKey) -> Resolution:
        card = identifier_of(SYSTEMS, key, values[key])
        async with storage.unit_of_work() as uow:
            return await INDEX.resolve(uow, person(8, identifiers=(card,)), actor="a")

    results = await asyncio.gather(*(scan(key) for key in keys))
    assert len({r.patient_id for r in results}) == 1 and sum(r.created for r in results) == 1
    async with storage.unit_of_work() as uow:
        body = (await uow.resources.read("Patient", results[0].patient_id)).body
        links = await uow.identities.links_for(results[0].patient_id)
        events = await uow.outbox.list(limit=100)
    on_body = {i["value"] for i in body["identifier"]}
    assert on_body == {id_number(8), *values.values()}
    assert {link.value for link in links} == on_body
    # Every card linked after the first scan was announced exactly once.
    announced = [i["value"] for e in events if e.topic == IDENTIFIER_LINKED for i in e.payload["identifiers"]]
    winner = next(key for key, r in zip(keys, results, strict=True) if r.created)
    assert sorted(announced) == sorted(v for k, v in values.items() if k != winner)
