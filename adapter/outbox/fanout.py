"""Fan-out: an event written for "*" becomes one event per subscribed hospital destination.

Done in one unit of work with the fenced mark of the "*" event (its claim must still hold), so the
copies exist exactly once: a crash before the commit leaves the "*" event to be claimed again, and a
second dispatcher that claimed it after a lease expiry fails the fence and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapter.errors import VersionConflict
from adapter.storage.ports import Storage
from adapter.storage.records import OutboxEvent
from his_connectors import DestinationsConfig

ALL_DESTINATIONS = "*"


async def fan_out(storage: Storage, events: Sequence[OutboxEvent], config: DestinationsConfig) -> int:
    """Expand ``events`` (claimed, destination "*") in one unit of work; returns how many copies were
    written. VersionConflict (nothing written) when the claim of any of them was lost: the caller
    then goes one by one."""
    written = 0
    async with storage.unit_of_work() as uow:
        marked = await uow.outbox.mark_delivered_many([(e.id, e.attempts) for e in events])
        if len(marked) != len(events):
            raise VersionConflict("a fan-out claim was lost")  # rolls back: nothing is written
        for event in events:
            written += await uow.outbox.add_many(
                topic=event.topic,
                ordering_key=event.ordering_key,
                payload=event.payload,
                destinations=[d.code for d in config.subscribers(event.topic)],
            )
    return written
