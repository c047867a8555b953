"""The dispatcher on the in-memory storage with recording connectors."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry

from adapter.outbox.backoff import RetryPolicy
from adapter.outbox.dispatcher import Dispatcher, DispatcherOptions
from adapter.outbox.fanout import fan_out
from adapter.outbox.metrics import OutboxMetrics
from adapter.storage import MemoryStorage, Storage
from his_connectors import DestinationsConfig, Receipt
from tests.unit.his_connectors.samples import patient
from tests.unit.outbox.fakes import RecordingConnector, publish, two_hospitals


async def _with_patients(count: int) -> MemoryStorage:
    storage = MemoryStorage()
    async with storage.unit_of_work() as uow:
        for n in range(count):
            await uow.resources.create(patient(n))
    return storage


def _dispatcher(storage: Storage, connectors: dict[str, Any], **options: Any) -> Dispatcher:
    config = two_hospitals()
    assert isinstance(config, DestinationsConfig)
    return Dispatcher(
        storage,
        config,
        connectors=connectors,
        policy=RetryPolicy(max_attempts=3, base_s=0.001, max_s=0.002),
        options=DispatcherOptions(poll_interval_s=0.01, **options),
    )


async def _drain(dispatcher: Dispatcher, rounds: int = 50, pause_s: float = 0.0) -> None:
    for _ in range(rounds):
        await dispatcher.run_once()
        if pause_s:
            await asyncio.sleep(pause_s)  # let retry times come due


async def test_fan_out_writes_one_event_per_subscriber() -> None:
    storage = await _with_patients(2)
    created = await publish(storage, 1, "patient.created")
    merged = await publish(storage, 1, "patient.merged")
    config = two_hospitals()
    assert isinstance(config, DestinationsConfig)
    async with storage.unit_of_work() as uow:
        [first] = await uow.outbox.claim(limit=10, now=_now(), lease_s=30)
    assert first.id == created
    assert await fan_out(storage, [first], config) == 1  # H2 only hears of merges
    async with storage.unit_of_work() as uow:
        [second] = [
            e for e in await uow.outbox.claim(limit=10, now=_now(), lease_s=30) if e.destination == "*"
        ]
    assert second.id == merged and await fan_out(storage, [second], config) == 2
    async with storage.unit_of_work() as uow:
        copies = [e for e in await uow.outbox.list() if e.destination != "*"]
        assert [(e.destination, e.topic) for e in copies] == [
            ("H1:adt", "patient.created"),
            ("H1:adt", "patient.merged"),
            ("H2:adt", "patient.merged"),
        ]
        assert {e.status for e in await uow.outbox.list(destination="*")} == {"delivered"}


async def test_events_arrive_in_order_per_patient_and_once() -> None:
    storage = await _with_patients(5)
    h1, h2 = RecordingConnector(), RecordingConnector()
    for n in range(20):
        await publish(storage, n % 5, "patient.merged" if n % 4 == 0 else "patient.updated", n)
    dispatcher = _dispatcher(storage, {"H1:adt": h1, "H2:adt": h2})
    await _drain(dispatcher)
    assert len(h1.received) == 20 and len(h2.received) == 5
    for key in {e.ordering_key for e in h1.received}:
        ns = [e.payload["n"] for e in h1.received if e.ordering_key == key]
        assert ns == sorted(ns)
    assert len({e.event_id for e in h1.received}) == 20
    assert h1.received[0].resources["patient"]["resourceType"] == "Patient"
    async with storage.unit_of_work() as uow:
        assert await uow.outbox.counts() == {"delivered": 45}
    await dispatcher.stop()
    assert h1.closed and h2.closed


async def test_failures_retry_then_dead_letter_and_release_the_key() -> None:
    storage = await _with_patients(1)
    refusing = RecordingConnector(lambda envelope: Receipt.failed("AE: simulated refusal"))
    await publish(storage, 0, "patient.updated", 0)
    registry = CollectorRegistry()
    dispatcher = _dispatcher(storage, {"H1:adt": refusing, "H2:adt": RecordingConnector()})
    dispatcher.metrics = OutboxMetrics(registry)
    await _drain(dispatcher, 20, pause_s=0.005)
    assert len(refusing.received) == 3  # max_attempts
    async with storage.unit_of_work() as uow:
        [dead] = await uow.outbox.list(status="dead")
    assert dead.destination == "H1:adt" and dead.last_error == "AE: simulated refusal" and dead.attempts == 3
    await dispatcher.refresh_counts()
    assert registry.get_sample_value("dualcode_outbox_events", {"status": "dead"}) == 1
    assert (
        registry.get_sample_value(
            "dualcode_outbox_delivery_attempts_total", {"destination": "H1:adt", "outcome": "failed"}
        )
        == 2
    )
    await dispatcher.stop()


async def test_a_permanent_failure_is_dead_at_once() -> None:
    storage = await _with_patients(1)
    broken = RecordingConnector(lambda envelope: Receipt.failed("cannot render", retryable=False))
    await publish(storage, 0)
    dispatcher = _dispatcher(storage, {"H1:adt": broken})
    await _drain(dispatcher, 5)
    assert len(broken.received) == 1
    async with storage.unit_of_work() as uow:
        assert await uow.outbox.counts() == {"delivered": 1, "dead": 1}
    await dispatcher.stop()


async def test_a_connector_that_raises_does_not_lose_the_event() -> None:
    storage = await _with_patients(1)

    def explode(envelope: Any) -> Receipt:
        raise RuntimeError("bug")

    await publish(storage, 0)
    dispatcher = _dispatcher(storage, {"H1:adt": RecordingConnector(explode)})
    await _drain(dispatcher, 5)
    async with storage.unit_of_work() as uow:
        [event] = await uow.outbox.list(destination="H1:adt")
    assert event.status in ("pending", "dead") and event.last_error == "connector error: RuntimeError"
    await dispatcher.stop()


async def test_the_running_dispatcher_delivers_and_stops_cleanly() -> None:
    storage = await _with_patients(3)
    h1 = RecordingConnector(delay_s=0.001)
    dispatcher = _dispatcher(storage, {"H1:adt": h1, "H2:adt": RecordingConnector()}, concurrency=4)
    await dispatcher.start()
    for n in range(30):
        await publish(storage, n % 3, n=n)
    dispatcher.wake()
    for _ in range(500):
        if len(h1.received) == 30:
            break
        await asyncio.sleep(0.01)
    await dispatcher.stop()
    assert len(h1.received) == 30


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_a_fan_out_whose_claim_was_lost_writes_nothing() -> None:
    from datetime import timedelta

    import pytest

    from adapter.errors import VersionConflict

    storage = await _with_patients(1)
    await publish(storage, 0, "patient.merged")
    config = two_hospitals()
    assert isinstance(config, DestinationsConfig)
    async with storage.unit_of_work() as uow:
        [stale] = await uow.outbox.claim(limit=1, now=_now(), lease_s=1)
        [fresh] = await uow.outbox.claim(limit=1, now=_now() + timedelta(seconds=2), lease_s=30)
    with pytest.raises(VersionConflict):
        await fan_out(storage, [stale], config)
    assert await fan_out(storage, [fresh], config) == 2
    async with storage.unit_of_work() as uow:
        assert await uow.outbox.counts() == {"delivered": 1, "pending": 2}
