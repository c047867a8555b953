"""Replay: run stored messages through the pipeline again, oldest first, without sending any ACK.

By default only messages that did not end processed (received after a crash, error, rejected) are
replayed; ``statuses`` may name others (processed, to re-apply a changed mapping). Each message runs
under its own execute-once lock, so a replay beside live traffic never runs one message twice at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from adapter.hl7v2.gateway import Gateway
from adapter.storage.ports import Storage

REPLAYABLE = ("received", "error", "rejected")
MAX_REPLAY = 10_000


@dataclass(frozen=True, slots=True)
class ReplayReport:
    replayed: int
    outcomes: dict[str, int]  # resulting status -> count


async def replay(
    gateway: Gateway,
    storage: Storage,
    *,
    since: datetime,
    until: datetime | None = None,
    statuses: tuple[str, ...] = REPLAYABLE,
    limit: int = MAX_REPLAY,
) -> ReplayReport:
    ids: list[str] = []
    async with storage.unit_of_work() as uow:
        for status in statuses:
            found = await uow.messages.list(status=status, since=since, until=until, limit=limit)
            ids.extend(f"{m.received_at.isoformat()}|{m.id}" for m in found)
    outcomes: Counter[str] = Counter()
    for entry in sorted(ids)[:limit]:  # oldest first: a sender's order is kept
        message = await gateway.reprocess(entry.split("|", 1)[1])
        outcomes[message.status] += 1
    return ReplayReport(sum(outcomes.values()), dict(outcomes))
