"""Retention (never an unfinished or failed message) and replay (oldest first, no ACK sent)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.handler import Peer
from adapter.hl7v2.replay import replay
from adapter.hl7v2.retention import Pruner, RetentionPolicy, prune
from adapter.hl7v2.senders import SenderTable
from adapter.security.audit import Auditor
from adapter.storage import MemoryStorage
from tests.unit.hl7v2.samples import adt

PEER = Peer("127.0.0.1", 1)


def gateway(storage: MemoryStorage) -> Gateway:
    return Gateway(storage, default_bindings(), senders=SenderTable(), auditor=Auditor())


async def statuses(storage: MemoryStorage) -> list[str]:
    async with storage.unit_of_work() as uow:
        return sorted(m.status for m in await uow.messages.list())


async def test_prune_by_days_and_bytes_spares_unfinished_and_failed() -> None:
    storage = MemoryStorage()
    gw = gateway(storage)
    for n in range(3):
        await gw(adt(f"K{n}", patient=f"P{n}").encode(), PEER)
    await gw(adt("K9", message_type="ORM", event="O01").encode(), PEER)  # rejected
    async with storage.unit_of_work() as uow:
        await uow.messages.add(sender="HIS^H001", control_id="K10", raw=b"MSH|")  # received
    assert not RetentionPolicy().active and await prune(storage, RetentionPolicy()) == 0
    assert await prune(storage, RetentionPolicy(days=1)) == 0  # all younger than a day
    later = datetime.now(UTC) + timedelta(days=2)
    assert await prune(storage, RetentionPolicy(days=1), now=later) == 3
    assert await statuses(storage) == ["received", "rejected"]
    assert await prune(storage, RetentionPolicy(max_bytes=1)) == 0


async def test_the_pruner_runs_in_the_background_and_stops() -> None:
    storage = MemoryStorage()
    await gateway(storage)(adt("B1").encode(), PEER)
    pruner = Pruner(storage, RetentionPolicy(max_bytes=1), interval_s=0.01)
    pruner.start()
    for _ in range(100):
        if not await statuses(storage):
            break
        await asyncio.sleep(0.01)
    await pruner.stop()
    assert await statuses(storage) == []
    idle = Pruner(storage, RetentionPolicy(), interval_s=0.01)
    idle.start()  # no policy: nothing is started
    await idle.stop()


async def test_replay_runs_unfinished_messages_oldest_first_and_leaves_processed_ones() -> None:
    storage = MemoryStorage()
    gw = gateway(storage)
    await gw(adt("R0", patient="P0").encode(), PEER)
    async with storage.unit_of_work() as uow:  # left "received" by a crash, in this order
        await uow.messages.add(sender="HIS^H001", control_id="R1", raw=adt("R1", patient="P1").encode())
        await uow.messages.add(
            sender="HIS^H001",
            control_id="R2",
            raw=adt("R2", patient="P1", event="A08", phone="13900000002").encode(),
        )
    since = datetime.now(UTC) - timedelta(hours=1)
    report = await replay(gw, storage, since=since)
    assert report.replayed == 2 and report.outcomes == {"processed": 2}
    async with storage.unit_of_work() as uow:
        r2 = await uow.messages.find("HIS^H001", "R2")
        assert r2 is not None and r2.patient_id is not None
        patient = await uow.resources.read("Patient", r2.patient_id)
    assert patient.version_id == 2 and patient.body["telecom"][0]["value"] == "13900000002"  # A04, A08
    assert (await replay(gw, storage, since=since)).replayed == 0
    everything = await replay(gw, storage, since=since, statuses=("processed",))
    assert everything.replayed == 3
