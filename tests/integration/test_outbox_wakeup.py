"""The outbox wake-up: a dispatcher with a long poll delivers at once when events commit, woken over
a real Redis (another storage, as another process would be) or directly in the same process.
Redis is never needed for correctness: without it, or with it down, writes go on and the poll finds
the events."""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapter.outbox.dispatcher import Dispatcher, DispatcherOptions
from adapter.outbox.service import build_wakeup
from adapter.outbox.wakeup import MESSAGE, OutboxWakeup
from adapter.settings import Settings
from adapter.storage import MemoryStorage, SqlStorage, Storage, Vault
from his_connectors import DestinationsConfig
from tests.contract.storage.databases import sqlite_database
from tests.unit.outbox.fakes import RecordingConnector, publish, two_hospitals

LONG_POLL_S = 30.0
QUICKLY_S = 2.0


def sleepy_dispatcher(storage: Storage) -> tuple[Dispatcher, RecordingConnector]:
    config = two_hospitals()
    assert isinstance(config, DestinationsConfig)
    connector = RecordingConnector()
    return (
        Dispatcher(
            storage,
            config,
            connectors={d.code: connector for d in config.destinations},
            options=DispatcherOptions(poll_interval_s=LONG_POLL_S),
        ),
        connector,
    )


async def delivered_within(connector: RecordingConnector, seconds: float) -> float | None:
    """Seconds until the first delivery, or None when none came within ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if connector.received:
            return time.monotonic() - start
        await asyncio.sleep(0.01)
    return None


async def settle_into_poll(dispatcher: Dispatcher) -> None:
    """Let the dispatcher's first (empty) claim round finish: it then waits for its long poll."""
    await asyncio.sleep(0.2)


async def messages(pubsub: Any, seconds: float) -> list[bytes]:
    """The data of every message ``pubsub`` hears within ``seconds``."""
    heard, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = await pubsub.get_message(timeout=0.1)
        if message is not None and message["type"] == "message":
            heard.append(message["data"])
    return heard


@pytest.fixture
def channel() -> str:
    return f"dualcode-test:outbox:wake:{secrets.token_hex(4)}"  # pub/sub ignores the db index


@pytest.fixture
async def two_storages(tmp_path: Path) -> AsyncIterator[tuple[SqlStorage, SqlStorage]]:
    url, vault = await sqlite_database(tmp_path), Vault.generate()
    writer, reader = SqlStorage(url, vault), SqlStorage(url, vault)
    try:
        yield writer, reader
    finally:
        await writer.close()
        await reader.close()


async def test_a_commit_in_another_storage_wakes_the_dispatcher_over_redis(
    redis_url: str, channel: str, two_storages: tuple[SqlStorage, SqlStorage]
) -> None:
    writer_storage, dispatcher_storage = two_storages
    dispatcher, connector = sleepy_dispatcher(dispatcher_storage)
    writer = OutboxWakeup(redis_url=redis_url, channel=channel)  # a process with no dispatcher
    writer.attach(writer_storage)
    woken = OutboxWakeup(wake=dispatcher.wake, redis_url=redis_url, channel=channel)
    woken.attach(dispatcher_storage)
    spy = aioredis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    await spy.subscribe(channel)
    await dispatcher.start()
    await woken.start()
    try:
        await woken.wait_subscribed(5.0)
        await settle_into_poll(dispatcher)
        await publish(writer_storage, 1)
        assert await delivered_within(connector, QUICKLY_S) is not None
        assert woken.received >= 1
        # What went over Redis: the one-byte wake-up, nothing about the patient or the event.
        heard = await messages(spy, 1.0)
        assert heard and set(heard) == {MESSAGE}
    finally:
        await woken.stop()
        await writer.stop()
        await dispatcher.stop()
        await spy.aclose()


async def test_without_the_wake_up_the_dispatcher_waits_for_its_poll(
    two_storages: tuple[SqlStorage, SqlStorage],
) -> None:
    writer_storage, dispatcher_storage = two_storages
    dispatcher, connector = sleepy_dispatcher(dispatcher_storage)
    await dispatcher.start()
    try:
        await settle_into_poll(dispatcher)
        await publish(writer_storage, 1)
        assert await delivered_within(connector, 1.0) is None
    finally:
        await dispatcher.stop()


async def test_in_process_a_commit_wakes_the_dispatcher_without_redis() -> None:
    storage = MemoryStorage()
    dispatcher, connector = sleepy_dispatcher(storage)
    wakeup = OutboxWakeup(wake=dispatcher.wake)
    wakeup.attach(storage)
    await dispatcher.start()
    await wakeup.start()
    try:
        await settle_into_poll(dispatcher)
        await publish(storage, 1)
        assert await delivered_within(connector, QUICKLY_S) is not None
    finally:
        await wakeup.stop()
        await dispatcher.stop()


async def test_only_committed_outbox_writes_wake(tmp_path: Path) -> None:
    storages: list[MemoryStorage | SqlStorage] = [
        MemoryStorage(),
        SqlStorage(await sqlite_database(tmp_path), Vault.generate()),
    ]
    for storage in storages:
        calls: list[int] = []
        storage.add_outbox_listener(functools.partial(calls.append, 1))
        with pytest.raises(RuntimeError):
            async with storage.unit_of_work() as uow:
                await uow.outbox.add(topic="t", destination="*", ordering_key="Patient/p", payload={})
                raise RuntimeError("rolled back")
        async with storage.unit_of_work() as uow:
            await uow.outbox.counts()  # a unit without outbox writes
        assert calls == []
        await publish(storage, 1)
        assert calls == [1]
        await storage.close()


async def test_redis_down_neither_stops_writes_nor_deliveries(channel: str) -> None:
    storage = MemoryStorage()
    dispatcher, connector = sleepy_dispatcher(storage)
    wakeup = OutboxWakeup(
        wake=dispatcher.wake, redis_url="redis://127.0.0.1:1/0", channel=channel, timeout_s=0.2
    )
    wakeup.attach(storage)
    await dispatcher.start()
    await wakeup.start()
    try:
        await settle_into_poll(dispatcher)
        await publish(storage, 1)  # the publish fails in the background: the write stands
        assert await delivered_within(connector, QUICKLY_S) is not None  # woken in process all the same
        await publish(storage, 2)
    finally:
        await wakeup.stop()
        await dispatcher.stop()


async def test_build_wakeup_subscribes_with_redis_and_wakes_in_process_without(redis_url: str) -> None:
    storage = MemoryStorage()
    dispatcher, connector = sleepy_dispatcher(storage)
    with_redis = build_wakeup(Settings(redis_url=redis_url), storage, dispatcher)
    await with_redis.start()
    try:
        await with_redis.wait_subscribed(5.0)  # nothing is published here: the channel is the real one
    finally:
        await with_redis.stop()
    without = build_wakeup(Settings(redis_url=None), storage, dispatcher)
    await dispatcher.start()
    await without.start()
    try:
        await settle_into_poll(dispatcher)
        await publish(storage, 1)
        assert await delivered_within(connector, QUICKLY_S) is not None
    finally:
        await without.stop()
        await dispatcher.stop()
