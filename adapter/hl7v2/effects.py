"""The effects queue of one connection: enhanced-mode messages run behind their commit ACK, in order.

In enhanced mode the gateway answers CA once the raw message is committed, hands the rest (handler,
outcome, audit, application ACK) to the connection's queue and returns, so the connection reads and
stores the next frame while the effects of the earlier ones run. One worker task per queue runs the
jobs strictly in arrival order: a sender's A08 never overtakes its A04 on the same connection.

Bounded: ``put`` waits while ``limit`` jobs are queued, and the connection, waiting in ``put``, reads
nothing more from its socket (backpressure reaches the sender through TCP). A message whose job never
ran (the process died, or stop() ran out of grace) is in the store as ``received``: the gateway runs
it at the next start (``Gateway.recover``), once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
DEFAULT_LIMIT = 64  # jobs waiting behind one connection (plus the one running)


class EffectsQueue:
    __slots__ = ("_busy", "_queue", "_worker")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the effects queue needs room for one job at least")
        self._queue: asyncio.Queue[Job] = asyncio.Queue(limit)
        self._worker: asyncio.Task[None] | None = None
        self._busy = False

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return self._queue.qsize() + (1 if self._busy else 0)

    async def put(self, job: Job) -> None:
        """Queue ``job`` behind the others; waits while the queue is full."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="hl7-effects")
        await self._queue.put(job)

    async def drain(self) -> None:
        """Wait until every job queued so far has run (or the worker is gone: cancelled at shutdown)."""
        worker = self._worker
        if worker is None or worker.done():
            return
        joined = asyncio.ensure_future(self._queue.join())
        try:
            await asyncio.wait((joined, worker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            joined.cancel()

    async def close(self) -> None:
        """Stop the worker; queued jobs that have not run are dropped (their messages stay stored as
        received, for recovery)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._busy = True
            try:
                await job()
            except Exception as exc:  # a job handles its own failures; this one keeps the queue going
                where = "".join(traceback.format_tb(exc.__traceback__))
                log.error("HL7 effects job failed: %s\n%s", type(exc).__name__, where)
            finally:
                self._busy = False
                self._queue.task_done()
