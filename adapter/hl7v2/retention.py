"""Retention of stored HL7 messages: a policy (days and/or bytes), pruning, and the periodic task.

Only processed messages are ever pruned (the store enforces it): a message still received, or in
error or rejected, stays until someone has dealt with it, however old or large the store gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from adapter.errors import DualcodeError
from adapter.storage.ports import Storage

if TYPE_CHECKING:
    from adapter.settings import Settings

log = logging.getLogger(__name__)
BATCH = 1000  # messages per unit of work: keeps each transaction short


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    days: int | None = None
    max_bytes: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(days=settings.hl7_retention_days, max_bytes=settings.hl7_retention_max_bytes)

    @property
    def active(self) -> bool:
        return self.days is not None or self.max_bytes is not None


async def prune(storage: Storage, policy: RetentionPolicy, *, now: datetime | None = None) -> int:
    """Apply the policy in batches; returns how many messages were deleted."""
    if not policy.active:
        return 0
    before = None
    if policy.days is not None:
        before = (now or datetime.now(UTC)) - timedelta(days=policy.days)
    total = 0
    while True:
        async with storage.unit_of_work() as uow:
            deleted = await uow.messages.prune(
                received_before=before, max_bytes=policy.max_bytes, limit=BATCH
            )
        total += deleted
        if deleted < BATCH:
            return total


class Pruner:
    """Runs ``prune`` every ``interval_s`` in the background; a failed round is logged and retried
    at the next interval (the service keeps running)."""

    def __init__(self, storage: Storage, policy: RetentionPolicy, interval_s: float) -> None:
        self._storage, self._policy, self._interval = storage, policy, interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._policy.active and self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="hl7-pruner")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                deleted = await prune(self._storage, self._policy)
            except DualcodeError as exc:
                log.warning("HL7 pruning failed: %s", exc.code)
                continue
            if deleted:
                log.info("HL7 pruning deleted %d processed message(s)", deleted)
