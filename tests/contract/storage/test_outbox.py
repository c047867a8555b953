"""OutboxStore contract: ordered per (destination, ordering key), leases, retries, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapter.errors import ResourceNotFound, VersionConflict
from adapter.storage import OutboxEvent, Storage
from tests.contract.storage.synthetic import LEASE, NOW


async def _add(storage: Storage, key: str, n: int, destination: str = "his-a") -> list[OutboxEvent]:
    async with storage.unit_of_work() as uow:
        return [
            await uow.outbox.add(
                topic="patient.updated", destination=destination, ordering_key=key, payload={"n": i}
            )
            for i in range(n)
        ]


async def _claim(storage: Storage, *, now: datetime = NOW, limit: int = 10) -> list[OutboxEvent]:
    async with storage.unit_of_work() as uow:
        return await uow.outbox.claim(limit=limit, now=now, lease_s=LEASE)


async def test_add_and_get(storage: Storage) -> None:
    [first, second] = await _add(storage, "Patient/a", 2)
    assert first.status == "pending" and first.attempts == 0 and first.next_attempt_at is None
    assert first.payload == {"n": 0} and first.created_at.tzinfo is UTC
    assert first.seq < second.seq
    async with storage.unit_of_work() as uow:
        assert await uow.outbox.get(first.id) == first
        with pytest.raises(ResourceNotFound):
            await uow.outbox.get("missing")
        with pytest.raises(ResourceNotFound):
            await uow.outbox.mark_delivered("missing")
        with pytest.raises(ResourceNotFound):
            await uow.outbox.mark_failed("missing", error="x", retry_at=None)


async def test_one_event_per_key_in_flight_oldest_first(storage: Storage) -> None:
    a1, a2 = await _add(storage, "Patient/a", 2)
    [b1] = await _add(storage, "Patient/b", 1)
    [other_destination] = await _add(storage, "Patient/a", 1, destination="his-b")
    claimed = await _claim(storage)
    assert [e.id for e in claimed] == [a1.id, b1.id, other_destination.id]
    assert all(e.status == "delivering" and e.attempts == 1 for e in claimed)
    assert claimed[0].next_attempt_at == NOW + timedelta(seconds=LEASE)
    assert await _claim(storage) == []  # leased: nothing more for these keys, a2 waits
    async with storage.unit_of_work() as uow:
        delivered = await uow.outbox.mark_delivered(a1.id)
    assert delivered.status == "delivered"
    assert [e.id for e in await _claim(storage)] == [a2.id]


async def test_claim_respects_limit_in_order(storage: Storage) -> None:
    events = [(await _add(storage, f"Patient/{i}", 1))[0] for i in range(5)]
    assert [e.id for e in await _claim(storage, limit=2)] == [events[0].id, events[1].id]
    assert [e.id for e in await _claim(storage, limit=10)] == [e.id for e in events[2:]]


async def test_an_expired_lease_is_claimed_again(storage: Storage) -> None:
    [event] = await _add(storage, "Patient/a", 1)
    await _claim(storage)
    assert await _claim(storage, now=NOW + timedelta(seconds=LEASE - 1)) == []
    [again] = await _claim(storage, now=NOW + timedelta(seconds=LEASE))
    assert again.id == event.id and again.attempts == 2


async def test_failed_event_waits_for_its_retry_and_blocks_its_key(storage: Storage) -> None:
    first, _waiting = await _add(storage, "Patient/a", 2)
    await _claim(storage)
    retry_at = NOW + timedelta(minutes=5)
    async with storage.unit_of_work() as uow:
        failed = await uow.outbox.mark_failed(first.id, error="HIS timeout", retry_at=retry_at)
    assert (failed.status, failed.last_error, failed.next_attempt_at) == ("pending", "HIS timeout", retry_at)
    assert await _claim(storage, now=retry_at - timedelta(seconds=1)) == []  # second stays behind
    [retried] = await _claim(storage, now=retry_at)
    assert retried.id == first.id and retried.attempts == 2 and retried.last_error == "HIS timeout"


async def test_dead_letter_releases_the_key(storage: Storage) -> None:
    first, second = await _add(storage, "Patient/a", 2)
    await _claim(storage)
    async with storage.unit_of_work() as uow:
        dead = await uow.outbox.mark_failed(first.id, error="rejected by HIS", retry_at=None)
        assert dead.status == "dead" and dead.next_attempt_at is None
        assert [e.id for e in await uow.outbox.list(status="dead")] == [first.id]
        assert [e.id for e in await uow.outbox.list()] == [first.id, second.id]
        assert [e.id for e in await uow.outbox.list(limit=1)] == [first.id]
    assert [e.id for e in await _claim(storage)] == [second.id]
    assert [e.id for e in await _claim(storage)] == []


async def test_a_fenced_mark_needs_the_claim_to_hold(storage: Storage) -> None:
    [event] = await _add(storage, "Patient/a", 1)
    [first_claim] = await _claim(storage)
    [second_claim] = await _claim(storage, now=NOW + timedelta(seconds=LEASE))  # the lease expired
    assert (first_claim.attempts, second_claim.attempts) == (1, 2)
    async with storage.unit_of_work() as uow:
        with pytest.raises(VersionConflict):
            await uow.outbox.mark_delivered(event.id, attempt=first_claim.attempts)
        with pytest.raises(VersionConflict):
            await uow.outbox.mark_failed(event.id, error="late", retry_at=None, attempt=1)
        delivered = await uow.outbox.mark_delivered(event.id, attempt=second_claim.attempts)
        assert delivered.status == "delivered"
        with pytest.raises(VersionConflict):  # delivered already: the fence holds no more
            await uow.outbox.mark_delivered(event.id, attempt=2)
        with pytest.raises(ResourceNotFound):
            await uow.outbox.mark_delivered("missing", attempt=1)


async def test_a_dead_event_can_be_retried(storage: Storage) -> None:
    [event] = await _add(storage, "Patient/a", 1)
    await _claim(storage)
    async with storage.unit_of_work() as uow:
        with pytest.raises(VersionConflict):
            await uow.outbox.retry(event.id)  # delivering, not dead
        await uow.outbox.mark_failed(event.id, error="AE from HIS", retry_at=None)
        again = await uow.outbox.retry(event.id)
        assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, None)
        assert again.last_error == "AE from HIS"
        with pytest.raises(ResourceNotFound):
            await uow.outbox.retry("missing")
    [claimed] = await _claim(storage)
    assert claimed.id == event.id and claimed.attempts == 1


async def test_counts_and_list_by_destination(storage: Storage) -> None:
    a1, _a2 = await _add(storage, "Patient/a", 2)
    [b1] = await _add(storage, "Patient/a", 1, destination="his-b")
    async with storage.unit_of_work() as uow:
        assert await uow.outbox.counts() == {"pending": 3}
        await uow.outbox.mark_delivered(a1.id)
        assert await uow.outbox.counts() == {"pending": 2, "delivered": 1}
        assert [e.id for e in await uow.outbox.list(destination="his-b")] == [b1.id]
        assert [e.id for e in await uow.outbox.list(destination="his-a", status="delivered")] == [a1.id]


async def test_add_many_fans_one_event_out_in_order(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        count = await uow.outbox.add_many(
            topic="patient.merged",
            ordering_key="Patient/a",
            payload={"patient": "Patient/a"},
            destinations=["his-a", "his-b", "his-c"],
        )
        assert count == 3
        assert await uow.outbox.add_many(topic="x", ordering_key="k", payload={}, destinations=[]) == 0
        events = await uow.outbox.list()
    assert [e.destination for e in events] == ["his-a", "his-b", "his-c"]
    assert events[0].seq < events[1].seq < events[2].seq and len({e.id for e in events}) == 3
    assert all(e.payload == {"patient": "Patient/a"} and e.status == "pending" for e in events)


async def test_mark_delivered_many_is_fenced(storage: Storage) -> None:
    a, b, c = (
        (await _add(storage, "Patient/a", 1))[0],
        (await _add(storage, "Patient/b", 1))[0],
        (await _add(storage, "Patient/c", 1))[0],
    )
    claimed = {e.id: e.attempts for e in await _claim(storage)}
    async with storage.unit_of_work() as uow:
        marked = await uow.outbox.mark_delivered_many(
            [(a.id, claimed[a.id]), (b.id, claimed[b.id] + 1), ("missing", 1)]
        )
        assert marked == {a.id}
        assert (await uow.outbox.get(a.id)).status == "delivered"
        assert (await uow.outbox.get(b.id)).status == "delivering"  # a stale claim: untouched
        assert (await uow.outbox.get(c.id)).status == "delivering"
        assert await uow.outbox.mark_delivered_many([]) == set()
