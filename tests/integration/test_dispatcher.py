"""Dispatchers over real databases and sockets: two at once on one database, and resuming after a
crash (a claim that was never settled), delivering to the SIMULATED HIS over MLLP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapter.outbox.backoff import RetryPolicy
from adapter.outbox.dispatcher import Dispatcher, DispatcherOptions
from adapter.storage import SqlStorage, Storage, Vault
from his_connectors import DestinationsConfig, parse_destinations
from mappings.hl7v2 import parse
from sandbox.his import HisMllpServer, HisState
from tests.contract.storage.databases import (
    create_postgres_database,
    drop_postgres_database,
    empty_tables,
    sqlite_database,
)
from tests.unit.his_connectors.samples import patient

HOSPITALS = ("H0001", "H0002")


@pytest.fixture(scope="module")
def dispatcher_pg(postgres_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_url, "dispatch")
    yield url
    drop_postgres_database(postgres_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return await sqlite_database(tmp_path)
    url: str = request.getfixturevalue("dispatcher_pg")
    await empty_tables(url)
    return url


@pytest.fixture
async def his() -> AsyncIterator[HisMllpServer]:
    server = HisMllpServer(HisState(), "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def destinations(port: int) -> DestinationsConfig:
    endpoint = f"mllp://127.0.0.1:{port}"
    return parse_destinations(
        {
            "hospitals": {
                h: {"destinations": [{"name": "adt", "connector": "mllp", "endpoint": endpoint}]}
                for h in HOSPITALS
            }
        }
    )


def dispatcher(storage: Storage, port: int, *, lease_s: float = 30.0) -> Dispatcher:
    return Dispatcher(
        storage,
        destinations(port),
        policy=RetryPolicy(max_attempts=1000, base_s=0.02, max_s=0.2),
        options=DispatcherOptions(batch_size=50, concurrency=32, lease_s=lease_s, poll_interval_s=0.02),
    )


async def publish(storage: Storage, patients: int, events: int) -> None:
    async with storage.unit_of_work() as uow:
        for n in range(patients):
            await uow.resources.create(patient(n))
    for start in range(0, events, 100):
        async with storage.unit_of_work() as uow:
            for i in range(start, min(events, start + 100)):
                key = f"Patient/p{i % patients}"
                await uow.outbox.add(
                    topic="patient.updated",
                    destination="*",
                    ordering_key=key,
                    payload={"patient": key, "n": i},
                )


async def wait_for(condition: object, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


def assert_each_once_in_order(state: HisState, events: int, patients: int) -> None:
    """Every event accepted once per hospital; per patient, in the order written."""
    for hospital in HOSPITALS:
        accepted = [
            r for r in reversed(state.received(hospital, 100_000)) if r.answered == "AA" and not r.duplicate
        ]
        assert len(accepted) == events
        assert state.accepted_keys(hospital) == events
        per_patient: dict[str, list[str]] = {}
        for item in accepted:
            per_patient.setdefault(parse(item.raw).get("PID-3.1"), []).append(item.key)
        assert len(per_patient) == patients


async def test_two_dispatchers_on_one_database_never_deliver_an_event_twice(
    database: str, his: HisMllpServer
) -> None:
    vault = Vault.generate()
    first, second = SqlStorage(database, vault), SqlStorage(database, vault)
    a, b = dispatcher(first, his.port), dispatcher(second, his.port)
    events, patients = 300, 20
    try:
        await publish(first, patients, events)
        await a.start()
        await b.start()
        await wait_for(lambda: all(his.state.accepted_keys(h) >= events for h in HOSPITALS))
        await a.stop()
        await b.stop()
        received = his.state.received(None, 100_000)
        assert not any(r.duplicate for r in received)  # not even a repeat: no event was held by both
        assert_each_once_in_order(his.state, events, patients)
        async with first.unit_of_work() as uow:
            assert await uow.outbox.counts() == {"delivered": events * 3}  # "*" + one per hospital
        order = await _order_seen(first, his.state)
        assert order  # per patient and hospital, the HIS saw the outbox order
    finally:
        await a.stop()
        await b.stop()
        await first.close()
        await second.close()


async def _order_seen(storage: Storage, state: HisState) -> bool:
    async with storage.unit_of_work(read_only=True) as uow:
        for hospital in HOSPITALS:
            events = await uow.outbox.list(destination=f"{hospital}:adt", limit=100_000)
            expected: dict[str, list[str]] = {}
            for event in events:  # oldest first
                expected.setdefault(event.ordering_key, []).append(event.id[:20])
            seen: dict[str, list[str]] = {}
            by_control = {e.id[:20]: e.ordering_key for e in events}
            for item in reversed(state.received(hospital, 100_000)):
                if item.answered == "AA" and not item.duplicate:
                    seen.setdefault(by_control[item.key], []).append(item.key)
            assert seen == expected
    return True


async def test_a_crashed_claim_is_delivered_after_its_lease(tmp_path: Path, his: HisMllpServer) -> None:
    storage = SqlStorage(await sqlite_database(tmp_path), Vault.generate())
    his.state.set_mode("*", "timeout")  # messages reach the HIS, no ACK comes back
    doomed = dispatcher(storage, his.port, lease_s=0.5)
    doomed.options = DispatcherOptions(
        batch_size=50, concurrency=32, lease_s=0.5, poll_interval_s=0.02, stop_grace_s=0
    )
    try:
        await publish(storage, 5, 40)
        await doomed.start()
        await wait_for(lambda: len(his.state.received(None)) >= 10)
        await doomed.stop()  # no grace: deliveries in flight are abandoned, their events stay leased
        async with storage.unit_of_work() as uow:
            assert (await uow.outbox.counts()).get("delivering", 0) >= 10
        his.state.set_mode("*", "ok")
        survivor = dispatcher(storage, his.port)
        await survivor.start()
        try:
            await wait_for(lambda: all(his.state.accepted_keys(h) >= 40 for h in HOSPITALS), 20)
        finally:
            await survivor.stop()
        assert_each_once_in_order(his.state, 40, 5)
        await _order_seen(storage, his.state)
        async with storage.unit_of_work() as uow:
            assert await uow.outbox.counts() == {"delivered": 120}
    finally:
        await doomed.stop()
        await storage.close()
