"""OutboxStore in memory: ordered per (destination, ordering key), leased while delivering."""

from __future__ import annotations

import builtins
import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from adapter.errors import ResourceNotFound, VersionConflict
from adapter.json_codec import dump_json, load_json
from adapter.storage.memory.state import Tx
from adapter.storage.records import OutboxEvent
from adapter.storage.shared import ACTIVE_OUTBOX, new_key, utc


class MemoryOutboxStore:
    __slots__ = ("_tx", "written")

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self.written = 0  # events added in this unit of work (the storage's post-commit wake-up)

    async def add(
        self, *, topic: str, destination: str, ordering_key: str, payload: dict[str, Any]
    ) -> OutboxEvent:
        state = self._tx.check()
        event = OutboxEvent(
            id=new_key(),
            topic=topic,
            destination=destination,
            ordering_key=ordering_key,
            payload=load_json(dump_json(payload)),  # what the SQL store's JSON round trip yields
            created_at=self._tx.clock.now(),
            seq=self._tx.next_seq("outbox"),
        )
        self._tx.journal.put(state.outbox, event.id, event)
        self.written += 1
        return _copy(event)

    async def add_many(
        self, *, topic: str, ordering_key: str, payload: dict[str, Any], destinations: Sequence[str]
    ) -> int:
        for destination in destinations:
            await self.add(topic=topic, destination=destination, ordering_key=ordering_key, payload=payload)
        return len(destinations)

    async def get(self, event_id: str) -> OutboxEvent:
        return _copy(self._event(event_id))

    async def claim(self, *, limit: int, now: datetime, lease_s: float) -> builtins.list[OutboxEvent]:
        now = utc(now)
        lease_until = now + timedelta(seconds=lease_s)
        seen_keys: set[tuple[str, str]] = set()
        claimed: builtins.list[OutboxEvent] = []
        for event in self._tx.check().outbox.values():
            if len(claimed) >= limit:
                break
            if event.status not in ACTIVE_OUTBOX:
                continue
            key = (event.destination, event.ordering_key)
            if key in seen_keys:
                continue  # an older event of this key is still pending or in flight
            seen_keys.add(key)
            if event.next_attempt_at is None or event.next_attempt_at <= now:
                claimed.append(
                    self._put(
                        replace(
                            event,
                            status="delivering",
                            attempts=event.attempts + 1,
                            next_attempt_at=lease_until,
                        )
                    )
                )
        return [_copy(event) for event in claimed]

    async def mark_delivered(self, event_id: str, *, attempt: int | None = None) -> OutboxEvent:
        event = self._fenced(event_id, attempt)
        return _copy(self._put(replace(event, status="delivered", next_attempt_at=None)))

    async def mark_delivered_many(self, claims: Sequence[tuple[str, int]]) -> set[str]:
        marked: set[str] = set()
        outbox = self._tx.check().outbox
        for event_id, attempt in claims:
            event = outbox.get(event_id)
            if event is not None and event.status == "delivering" and event.attempts == attempt:
                self._put(replace(event, status="delivered", next_attempt_at=None))
                marked.add(event_id)
        return marked

    async def mark_failed(
        self, event_id: str, *, error: str, retry_at: datetime | None, attempt: int | None = None
    ) -> OutboxEvent:
        event = self._fenced(event_id, attempt)
        if retry_at is None:
            failed = replace(event, status="dead", next_attempt_at=None, last_error=error)
        else:
            failed = replace(event, status="pending", next_attempt_at=utc(retry_at), last_error=error)
        return _copy(self._put(failed))

    async def retry(self, event_id: str) -> OutboxEvent:
        event = self._event(event_id)
        if event.status != "dead":
            raise VersionConflict("only a dead outbox event can be retried")
        return _copy(self._put(replace(event, status="pending", attempts=0, next_attempt_at=None)))

    async def counts(self) -> dict[str, int]:
        return dict(Counter(e.status for e in self._tx.check().outbox.values()))

    async def list(
        self, *, status: str | None = None, destination: str | None = None, limit: int = 100
    ) -> builtins.list[OutboxEvent]:
        events = [
            e
            for e in self._tx.check().outbox.values()
            if (status is None or e.status == status) and destination in (None, e.destination)
        ]
        return [_copy(e) for e in events[:limit]]

    def _fenced(self, event_id: str, attempt: int | None) -> OutboxEvent:
        event = self._event(event_id)
        if attempt is not None and (event.status != "delivering" or event.attempts != attempt):
            raise VersionConflict("the outbox event's claim has expired")
        return event

    def _event(self, event_id: str) -> OutboxEvent:
        event = self._tx.check().outbox.get(event_id)
        if event is None:
            raise ResourceNotFound("no such outbox event")
        return event

    def _put(self, event: OutboxEvent) -> OutboxEvent:
        self._tx.journal.put(self._tx.state.outbox, event.id, event)
        return event


def _copy(event: OutboxEvent) -> OutboxEvent:
    """Callers get their own payload dict, as they would from a fresh SQL row."""
    return replace(event, payload=copy.deepcopy(event.payload))
