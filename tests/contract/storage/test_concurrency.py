"""Real concurrency: overlapping units of work on one storage, and on several storages sharing one
database (as several processes would). SQLite must queue writers, never fail with "database is
locked"; PostgreSQL must let exactly one of two clashing writers win."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapter.errors import DuplicateKey
from adapter.storage import SqlStorage, Storage, Vault
from tests.contract.storage.synthetic import ID_SYSTEM, LEASE, NOW, identifier_token, patient


async def _link_after_looking(storage: Storage, patient_id: str, seen: list[bool]) -> bool:
    """Look the identifier up, pause, then link it: the check-then-act race an MPI runs into."""
    try:
        async with storage.unit_of_work() as uow:
            seen.append(await uow.identities.find(ID_SYSTEM, "TEST-4001") is None)
            await asyncio.sleep(0.05)  # where the backend allows it, the other one runs meanwhile
            await uow.identities.link(ID_SYSTEM, "TEST-4001", patient_id)
        return True
    except DuplicateKey:
        return False


async def _assert_one_winner(storage: Storage, results: list[bool], patients: list[str]) -> None:
    assert sorted(results) == [False, True]
    winner = patients[results.index(True)]
    async with storage.unit_of_work() as uow:
        link = await uow.identities.find(ID_SYSTEM, "TEST-4001")
        assert link is not None and link.patient_id == winner
        for loser in patients:
            if loser != winner:
                assert await uow.identities.links_for(loser) == []


async def test_two_units_link_one_identifier_exactly_one_wins(storage: Storage) -> None:
    patients, seen = ["pat-a", "pat-b"], []
    results = await asyncio.gather(*(_link_after_looking(storage, p, seen) for p in patients))
    await _assert_one_winner(storage, list(results), patients)
    if isinstance(storage, SqlStorage) and storage.engine.dialect.name == "postgresql":
        assert seen == [True, True]  # both looked before either linked: the race really happened


@asynccontextmanager
async def _storages(url: str, vault: Vault, count: int) -> AsyncIterator[list[SqlStorage]]:
    storages = [SqlStorage(url, vault, pool_size=2) for _ in range(count)]
    try:
        yield storages
    finally:
        for each in storages:
            await each.close()


async def test_two_storages_link_one_identifier_exactly_one_wins(sql_url: str, vault: Vault) -> None:
    patients, seen = ["pat-a", "pat-b"], []
    async with _storages(sql_url, vault, 2) as (one, two):
        results = await asyncio.gather(
            _link_after_looking(one, "pat-a", seen), _link_after_looking(two, "pat-b", seen)
        )
        await _assert_one_winner(one, list(results), patients)
    if sql_url.startswith("postgresql"):
        assert seen == [True, True]


async def test_many_concurrent_writers_all_succeed(sql_url: str, vault: Vault) -> None:
    async def writer(storage: SqlStorage, n: int) -> None:
        for i in range(5):
            async with storage.unit_of_work() as uow:
                stored, _ = await uow.resources.create(
                    patient(f"TEST-5{n}{i}"), tokens=[identifier_token(f"TEST-5{n}{i}")]
                )
                await asyncio.sleep(0)
                await uow.resources.update({**stored.body, "active": True})
                await uow.outbox.add(topic="t", destination="d", ordering_key=stored.id, payload={})

    async with _storages(sql_url, vault, 3) as storages:
        await asyncio.gather(*(writer(storages[n % 3], n) for n in range(6)))
        async with storages[0].unit_of_work() as uow:
            found = await uow.resources.search("Patient", [], limit=1000)
            assert len(found) == 30 and all(r.version_id == 2 for r in found)
            assert len(await uow.outbox.list(limit=1000)) == 30


async def test_concurrent_updates_of_one_resource_get_distinct_versions(sql_url: str, vault: Vault) -> None:
    async with _storages(sql_url, vault, 2) as storages:
        async with storages[0].unit_of_work() as uow:
            await uow.resources.create(patient(id="busy"))

        async def update(storage: SqlStorage, n: int) -> int:
            async with storage.unit_of_work() as uow:
                stored, _ = await uow.resources.update(patient(id="busy", gender=f"g{n}"))
                await asyncio.sleep(0.01)
                return stored.version_id

        versions = await asyncio.gather(*(update(storages[n % 2], n) for n in range(8)))
        assert sorted(versions) == list(range(2, 10))
        async with storages[1].unit_of_work() as uow:
            assert [r.version_id for r in await uow.resources.history("Patient", "busy")] == list(
                range(9, 0, -1)
            )


async def test_concurrent_conditional_creates_make_one_resource(sql_url: str, vault: Vault) -> None:
    condition = [identifier_token("TEST-6001")]

    async def conditional_create(storage: SqlStorage) -> bool:
        async with storage.unit_of_work() as uow:
            _, created = await uow.resources.create(
                patient("TEST-6001"), tokens=condition, if_none_exist=condition
            )
            await asyncio.sleep(0.05)
            return created

    async with _storages(sql_url, vault, 2) as storages:
        results = await asyncio.gather(*(conditional_create(storages[n % 2]) for n in range(4)))
        assert sorted(results) == [False, False, False, True]
        async with storages[0].unit_of_work() as uow:
            assert len(await uow.resources.search("Patient", condition)) == 1


async def test_claims_in_overlapping_transactions_never_share_a_key(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        for key in ("k1", "k2", "k3", "k4"):
            for n in range(2):
                await uow.outbox.add(topic="t", destination="d", ordering_key=key, payload={"n": n})
    first_claimed = asyncio.Event()

    async def slow_claimer() -> list[tuple[str, int]]:
        async with storage.unit_of_work() as uow:
            events = await uow.outbox.claim(limit=2, now=NOW, lease_s=LEASE)
            first_claimed.set()
            await asyncio.sleep(0.2)  # keep the transaction (and its row locks) open
            return [(e.ordering_key, e.payload["n"]) for e in events]

    async def second_claimer() -> list[tuple[str, int]]:
        await first_claimed.wait()
        async with storage.unit_of_work() as uow:
            events = await uow.outbox.claim(limit=10, now=NOW, lease_s=LEASE)
            return [(e.ordering_key, e.payload["n"]) for e in events]

    slow, second = await asyncio.gather(slow_claimer(), second_claimer())
    assert slow == [("k1", 0), ("k2", 0)]
    assert second == [("k3", 0), ("k4", 0)]
