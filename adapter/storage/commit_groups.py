"""Commit groups: jobs that arrive while one unit of work is being committed run together next, in
one unit of work (one transaction, one commit). Sampling binds use it (one audit insert for a whole
group of scans); any short write that many clients send at once can.

The story it was written for: a sampling bind is a few small statements, and a unit of work costs
about as much again around them (on PostgreSQL: a pooled connection, BEGIN and COMMIT round trips
and a WAL flush; on SQLite: the write lock, a savepoint per grouped member and a COMMIT). Sixteen
sampling points scanning at once need one such unit per group, not per scan. The queue starts a
group as soon as the previous one is committed, with every scan that arrived meanwhile (up to
``max_items``), in arrival order; each scan is answered once its group is committed. One group runs
at a time (on SQLite there is one writer anyway; on PostgreSQL it keeps groups from locking tubes in
opposite orders). How a group is bound (a refusal answers only its own scan; a unit that fails as a
whole is redone scan by scan) is the runner's business (``SamplingService``). A waiting request
that is cancelled (its client went away) does not take its scan out of the group: once bound it
stays bound, and scanning the person again answers that registration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Job = TypeVar("Job")
Answer = TypeVar("Answer")

MAX_GROUP = 64  # scans per unit of work (a unit holds SQLite's write lock while it runs)


class GroupQueue(Generic[Job, Answer]):
    """``submit(job)`` waits for ``run(group)`` to answer the group the job went into; ``run``
    answers each job with a value or an exception, in the order given."""

    def __init__(
        self,
        run: Callable[[Sequence[Job]], Awaitable[Sequence[Answer | Exception]]],
        *,
        max_items: int = MAX_GROUP,
    ) -> None:
        self._run, self._max = run, max_items
        self._waiting: list[tuple[Job, asyncio.Future[Answer]]] = []
        self._task: asyncio.Task[None] | None = None
        self.groups = 0  # groups run: for tests and benchmarks

    async def submit(self, job: Job) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._task is None:  # cleared synchronously when a drain ends: no scan is left behind
            self._task = asyncio.create_task(self._drain(), name="commit-groups")
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                self.groups += 1
                try:
                    answers = await self._run([job for job, _ in group])
                except asyncio.CancelledError:
                    for _, future in group:
                        future.cancel()
                    raise
                except Exception as error:  # the runner itself broke: every scan of the group hears it
                    answers = [error] * len(group)
                for (_, future), answer in zip(group, answers, strict=True):
                    if future.done():  # its request was cancelled meanwhile
                        continue
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        except asyncio.CancelledError:
            for _, future in self._waiting:  # nothing may wait forever
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._task = None
