"""The outbox dispatcher: claims due events, fans "*" events out, delivers the rest, settles results.

Ordering: the store's claim hands out at most one event per (destination, ordering key) and only the
oldest undelivered one, so a patient's events reach a hospital in order while different patients
(and hospitals) go in parallel, up to ``concurrency`` deliveries at once. A delivery runs as its own
task; results are settled in batches (one unit of work each). Failures are retried with backoff and
jitter until the policy's limit, then dead-lettered (never dropped). A crash leaves claimed events
leased: after ``lease_s`` any dispatcher claims them again, and the receiver's idempotency key
(MSH-10, Idempotency-Key, the unique column) makes the repeat harmless. Several dispatchers may share
a database: the claim is atomic (row locks on PostgreSQL, serialised writers on SQLite) and marks are
fenced on the claim's attempt number.

The dispatcher also reads the inbound tables of ``sql_table`` destinations that have one (rows the HIS
writes for us) into the patient index, every ``inbound_interval_s``: see ``adapter.outbox.inbound``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from adapter.errors import VersionConflict
from adapter.outbox.backoff import RetryPolicy
from adapter.outbox.envelopes import build_envelope
from adapter.outbox.fanout import ALL_DESTINATIONS, fan_out
from adapter.outbox.inbound import InboundReader, InboundSource
from adapter.outbox.metrics import OutboxMetrics
from adapter.storage.ports import Storage
from adapter.storage.records import OutboxEvent
from his_connectors import Connector, Destination, DestinationsConfig, Envelope, Receipt, open_connector

log = logging.getLogger("dualcode.outbox")
_SETTLE_BATCH = 500
_COUNTS_EVERY_S = 2.0


@dataclass(frozen=True, slots=True)
class DispatcherOptions:
    batch_size: int = 200
    concurrency: int = 64
    lease_s: float = 60.0
    poll_interval_s: float = 0.5
    stop_grace_s: float = 5.0
    inbound_interval_s: float = 2.0  # how often inbound tables are read


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        storage: Storage,
        config: DestinationsConfig,
        *,
        policy: RetryPolicy | None = None,
        options: DispatcherOptions | None = None,
        connectors: Mapping[str, Connector] | None = None,
        metrics: OutboxMetrics | None = None,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.storage = storage
        self.config = config
        self.policy = policy or RetryPolicy()
        self.options = options or DispatcherOptions()
        self.metrics = metrics
        self._destinations = config.by_code()
        self._connectors: dict[str, Connector] = dict(connectors or {})
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter, not a secret
        self._wake = asyncio.Event()
        self._settled: asyncio.Queue[tuple[OutboxEvent, Receipt] | None] = asyncio.Queue()  # None: stop
        self._stopping = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._counts_at = 0.0
        self._inbound_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    def inbound_reader(self) -> InboundReader | None:
        """The reader of every configured inbound table (None: there is none)."""
        sources: dict[str, tuple[Destination, InboundSource]] = {}
        for destination in self.config.destinations:
            if destination.connector == "sql_table" and destination.inbound_table and destination.enabled:
                try:
                    connector = self._connector(destination.code)
                except Exception:  # e.g. no driver for its URL: its deliveries will say so too
                    log.exception("cannot open %s to read its inbound table", destination.code)
                    continue
                if hasattr(connector, "read_inbound"):
                    sources[destination.code] = (destination, cast(InboundSource, connector))
        return InboundReader(self.storage, sources) if sources else None

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="outbox-claim"),
            asyncio.create_task(self._settle_loop(), name="outbox-settle"),
        ]
        reader = self.inbound_reader()
        if reader is not None:
            self._inbound_task = asyncio.create_task(self._inbound_loop(reader), name="outbox-inbound")

    async def _inbound_loop(self, reader: InboundReader) -> None:
        while not self._stopping:
            try:
                more = await reader.run_once()
            except Exception:  # the HIS database or ours went away: keep trying, never die silently
                log.exception("reading inbound tables failed")
                more = 0
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), self.options.inbound_interval_s)

    async def stop(self) -> None:
        """Stop claiming, let deliveries in flight finish (bounded), settle them, close connectors.

        Nothing is cancelled inside a unit of work (a cancelled rollback would leave a SQLite write
        lock behind): the loops are asked to finish instead."""
        if self._tasks:
            claimer, settler = self._tasks
            self._stopping = True
            self._stopped.set()
            self._wake.set()
            await claimer
            if self._inbound_task is not None:
                await self._inbound_task  # it finishes its row: nothing is cancelled inside a unit
                self._inbound_task = None
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=self.options.stop_grace_s)
            for task in self._inflight:
                task.cancel()  # still leased: claimed again after the lease expires
            await asyncio.gather(*self._inflight, return_exceptions=True)
            await self._settled.put(None)
            await settler
            self._tasks = []
        for connector in self._connectors.values():
            with contextlib.suppress(Exception):  # closing must not stop the others from closing
                await connector.close()
        self._connectors.clear()

    def wake(self) -> None:
        """Look for due events now (e.g. after a commit that added some)."""
        self._wake.set()

    async def run_once(self) -> int:
        """One claim round, with deliveries awaited and settled (tests, CLI). Returns events claimed."""
        claimed = await self._claim_round(self.options.batch_size)
        if self._inflight:
            await asyncio.gather(*self._inflight)
        await self._settle_available()
        return claimed

    async def _claim_loop(self) -> None:
        # Claim in rounds of a useful size: every round costs a claim, a read and a settle
        # transaction whatever its size, so a slot freed alone waits for a few others.
        low_water = max(1, min(self.options.batch_size, self.options.concurrency) // 4)
        while not self._stopping:
            free = self.options.concurrency - len(self._inflight)
            claimed = 0
            if free >= low_water or (free > 0 and not self._inflight):
                try:
                    claimed = await self._claim_round(min(free, self.options.batch_size))
                except Exception:  # the database went away: keep trying, never die silently
                    log.exception("outbox claim failed")
            if (claimed == 0 or free < low_water) and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.options.poll_interval_s)
                self._wake.clear()

    async def _claim_round(self, limit: int) -> int:
        async with self.storage.unit_of_work() as uow:
            events = await uow.outbox.claim(limit=limit, now=self._clock(), lease_s=self.options.lease_s)
        if not events:
            await self._refresh_counts()
            return 0
        stars = [e for e in events if e.destination == ALL_DESTINATIONS]
        if stars:
            await self._fan_out(stars)
            self._wake.set()  # the copies are due now
        direct = [e for e in events if e.destination != ALL_DESTINATIONS]
        if direct:
            envelopes = await self._envelopes(direct)
            for event in direct:
                task = asyncio.create_task(self._deliver(event, envelopes.get(event.id)))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        return len(events)

    async def _fan_out(self, events: list[OutboxEvent]) -> None:
        try:
            count = await fan_out(self.storage, events, self.config)
        except VersionConflict:  # some claim was lost to another dispatcher: the rest one by one
            count = 0
            for event in events:
                with contextlib.suppress(VersionConflict):
                    count += await fan_out(self.storage, [event], self.config)
        if self.metrics is not None:
            self.metrics.fanned_out.inc(count)

    async def _envelopes(self, events: list[OutboxEvent]) -> dict[str, Envelope]:
        envelopes: dict[str, Envelope] = {}
        cache: dict[tuple[object, object], dict[str, Any] | None] = {}
        async with self.storage.unit_of_work(read_only=True) as uow:
            for event in events:
                destination = self._destinations.get(event.destination)
                if destination is not None:
                    envelopes[event.id] = await build_envelope(uow, event, destination, cache)
        return envelopes

    async def _deliver(self, event: OutboxEvent, envelope: Envelope | None) -> None:
        if envelope is None:
            receipt = Receipt.failed("no such destination in the connectors file", retryable=False)
        else:
            try:
                receipt = await self._connector(event.destination).deliver(envelope)
            except Exception as error:  # a connector bug must not lose the event
                log.exception("connector %s raised", event.destination)
                receipt = Receipt.failed(f"connector error: {type(error).__name__}")
        await self._settled.put((event, receipt))

    def _connector(self, code: str) -> Connector:
        connector = self._connectors.get(code)
        if connector is None:
            connector = self._connectors[code] = open_connector(self._destinations[code])
        return connector

    async def _settle_loop(self) -> None:
        while True:
            batch = [await self._settled.get(), *self._drain(_SETTLE_BATCH - 1)]
            items = [item for item in batch if item is not None]
            if items:
                await self._settle(items)
            if len(items) < len(batch):
                return

    async def _settle_available(self) -> None:
        while items := [item for item in self._drain(_SETTLE_BATCH) if item is not None]:
            await self._settle(items)

    def _drain(self, limit: int) -> list[tuple[OutboxEvent, Receipt] | None]:
        items: list[tuple[OutboxEvent, Receipt] | None] = []
        while len(items) < limit and not self._settled.empty():
            items.append(self._settled.get_nowait())
        return items

    async def _settle(self, items: list[tuple[OutboxEvent, Receipt]]) -> None:
        outcomes: list[tuple[str, str]] = []
        for attempt in range(5):
            try:
                outcomes = await self._mark(items)
                break
            except Exception:  # the database blinked: the leases keep the events safe meanwhile
                log.exception("settling outbox results failed (attempt %d)", attempt + 1)
                await asyncio.sleep(0.2 * 2**attempt)
        if self.metrics is not None:
            for destination, outcome in outcomes:
                self.metrics.observe(destination, outcome)
            with contextlib.suppress(Exception):
                await self._refresh_counts()
        self._wake.set()  # the next event of each settled key may be due now

    async def _mark(self, items: list[tuple[OutboxEvent, Receipt]]) -> list[tuple[str, str]]:
        outcomes = []
        now = self._clock()
        delivered = [event for event, receipt in items if receipt.delivered]
        async with self.storage.unit_of_work() as uow:
            marked = await uow.outbox.mark_delivered_many([(e.id, e.attempts) for e in delivered])
            outcomes += [(e.destination, "delivered") for e in delivered if e.id in marked]
            for event, receipt in items:
                if receipt.delivered:
                    continue
                retry_at = self.policy.retry_at(event.attempts, now, self._rng) if receipt.retryable else None
                try:
                    await uow.outbox.mark_failed(
                        event.id, error=receipt.detail or "failed", retry_at=retry_at, attempt=event.attempts
                    )
                except VersionConflict:
                    continue  # the lease expired and another claim owns the event now
                outcomes.append((event.destination, "failed" if retry_at else "dead"))
        return outcomes

    async def _refresh_counts(self) -> None:
        if self.metrics is None or time.monotonic() - self._counts_at < _COUNTS_EVERY_S:
            return
        self._counts_at = time.monotonic()
        async with self.storage.unit_of_work(read_only=True) as uow:
            self.metrics.set_counts(await uow.outbox.counts())

    async def refresh_counts(self) -> None:
        """Bring the status gauges up to date now (the /metrics scrape and tests)."""
        self._counts_at = 0.0
        await self._refresh_counts()
