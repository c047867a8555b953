"""MessageStore contract: raw bytes kept, (sender, control id) executed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapter.errors import ResourceNotFound
from adapter.storage import Storage

RAW = "MSH|^~\\&|HIS|TEST|DUALCODE|TEST|20240501080000||ADT^A04|MSG0001|P|2.5\rPID|1||TEST-2001\r"


async def test_add_get_find(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        stored, created = await uow.messages.add(
            sender="HIS-A", control_id="MSG0001", raw=RAW.encode("gbk"), message_type="ADT^A04"
        )
    assert created and stored.status == "received" and stored.raw == RAW.encode("gbk")
    assert stored.received_at.tzinfo is UTC
    async with storage.unit_of_work() as uow:
        assert await uow.messages.get(stored.id) == stored
        assert await uow.messages.find("HIS-A", "MSG0001") == stored
        assert await uow.messages.find("HIS-B", "MSG0001") is None
        with pytest.raises(ResourceNotFound):
            await uow.messages.get("missing")


async def test_a_repeated_control_id_returns_the_original(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        first, _ = await uow.messages.add(sender="HIS-A", control_id="MSG0002", raw=b"first")
    async with storage.unit_of_work() as uow:
        again, created = await uow.messages.add(sender="HIS-A", control_id="MSG0002", raw=b"second")
        other, other_created = await uow.messages.add(sender="HIS-B", control_id="MSG0002", raw=b"b")
    assert not created and again == first and again.raw == b"first"
    assert other_created and other.id != first.id


async def test_set_outcome(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        stored, _ = await uow.messages.add(sender="HIS-A", control_id="MSG0003", raw=b"raw")
        done = await uow.messages.set_outcome(
            stored.id,
            status="processed",
            ack=b"MSH|...\rMSA|AA|MSG0003\r",
            patient_id="pat-a",
            resources=["Patient/pat-a", "Encounter/enc-1"],
        )
        assert done.status == "processed" and done.resources == ("Patient/pat-a", "Encounter/enc-1")
        failed = await uow.messages.set_outcome(stored.id, status="error", ack=None, error="DC-4002")
        with pytest.raises(ResourceNotFound):
            await uow.messages.set_outcome("missing", status="error", ack=None)
    async with storage.unit_of_work() as uow:
        read = await uow.messages.get(stored.id)
    assert read == failed
    assert (read.status, read.ack, read.patient_id, read.error, read.resources) == (
        "error",
        None,
        None,
        "DC-4002",
        (),
    )


async def test_list_filters_newest_first(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        a, _ = await uow.messages.add(sender="HIS-A", control_id="1", raw=b"a", message_type="ADT^A04")
        b, _ = await uow.messages.add(sender="HIS-B", control_id="1", raw=b"b", message_type="ORM^O01")
        c, _ = await uow.messages.add(sender="HIS-A", control_id="2", raw=b"c", message_type="ADT^A08")
        await uow.messages.set_outcome(c.id, status="processed", ack=None, patient_id="pat-a")
    async with storage.unit_of_work() as uow:
        listed = uow.messages.list
        assert [m.id for m in await listed()] == [c.id, b.id, a.id]
        assert [m.id for m in await listed(limit=2)] == [c.id, b.id]
        assert [m.id for m in await listed(sender="HIS-A")] == [c.id, a.id]
        assert [m.id for m in await listed(message_type="ORM^O01")] == [b.id]
        assert [m.id for m in await listed(status="received")] == [b.id, a.id]
        assert [m.id for m in await listed(patient_id="pat-a")] == [c.id]
        assert [m.id for m in await listed(since=b.received_at)] == [c.id, b.id]
        assert [m.id for m in await listed(until=b.received_at)] == [a.id]
        later = c.received_at + timedelta(seconds=1)
        assert await listed(since=later) == []
        shanghai = b.received_at.astimezone(timezone(timedelta(hours=8)))  # same instant, +08:00
        assert [m.id for m in await listed(since=shanghai)] == [c.id, b.id]
        with pytest.raises(ValueError, match="timezone"):
            await listed(since=datetime(2024, 1, 1))  # naive: refused, never guessed


async def _stored(storage: Storage, control_id: str, status: str, size: int = 1000) -> str:
    async with storage.unit_of_work() as uow:
        message, _ = await uow.messages.add(sender="HIS-P", control_id=control_id, raw=b"x" * size)
        if status != "received":
            await uow.messages.set_outcome(message.id, status=status, ack=b"ack")
    return message.id


async def test_prune_by_age_keeps_unprocessed_and_errored(storage: Storage) -> None:
    ids = {status: await _stored(storage, status, status) for status in ("processed", "received", "error")}
    ids["rejected"] = await _stored(storage, "rejected", "rejected")
    async with storage.unit_of_work() as uow:
        later = (await uow.messages.get(ids["rejected"])).received_at + timedelta(seconds=1)
        assert await uow.messages.prune(received_before=later) == 1
        with pytest.raises(ResourceNotFound):
            await uow.messages.get(ids["processed"])
        assert await uow.messages.find("HIS-P", "processed") is None
        assert {m.status for m in await uow.messages.list()} == {"received", "error", "rejected"}
        assert await uow.messages.prune(received_before=later) == 0
    async with storage.unit_of_work() as uow:  # a repeated control id is a new message once pruned
        _, created = await uow.messages.add(sender="HIS-P", control_id="processed", raw=b"again")
        assert created


async def test_prune_by_bytes_drops_oldest_processed_first(storage: Storage) -> None:
    first = await _stored(storage, "1", "processed")
    await _stored(storage, "2", "error")
    second = await _stored(storage, "3", "processed")
    third = await _stored(storage, "4", "processed")
    async with storage.unit_of_work() as uow:
        assert await uow.messages.prune(max_bytes=100_000) == 0
        assert await uow.messages.prune(max_bytes=2500) == 2  # 4 x ~1000 bytes -> 2 remain
        remaining = {m.id for m in await uow.messages.list()}
    assert first not in remaining and second not in remaining and third in remaining
    async with storage.unit_of_work() as uow:  # errored ones stay even over budget
        assert await uow.messages.prune(max_bytes=1, limit=10) == 1
        assert [m.status for m in await uow.messages.list()] == ["error"]


async def test_prune_rolls_back_with_its_unit_of_work(storage: Storage) -> None:
    kept = await _stored(storage, "1", "processed")
    newer = await _stored(storage, "2", "processed")
    with pytest.raises(RuntimeError):
        async with storage.unit_of_work() as uow:
            assert await uow.messages.prune(max_bytes=1) == 2
            raise RuntimeError("abort")
    async with storage.unit_of_work() as uow:
        assert [m.id for m in await uow.messages.list()] == [newer, kept]
