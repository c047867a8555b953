"""Group binding: concurrent scans share a unit of work, and each is still answered on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from adapter.errors import ServiceUnavailable
from adapter.sampling import Registered, RegistrationRequest
from adapter.sampling.service import Identified
from adapter.storage import MemoryStorage
from adapter.storage.commit_groups import GroupQueue
from tests.unit.sampling.fakes import SAMPLER, FakeScanner, make_service
from tests.unit.sampling.test_service import BreakingStorage


class CountingStorage:
    """Counts the write units of work opened on a memory storage."""

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self.write_units = 0

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False, grouped: bool = False) -> AsyncIterator[Any]:
        if not read_only:
            self.write_units += 1
        async with self._storage.unit_of_work(read_only=read_only, grouped=grouped) as uow:
            await asyncio.sleep(0)  # a database round trip: other scans arrive meanwhile
            yield uow


def req(code: str, tube: str = "TUBE0001", pool_size: int = 20) -> RegistrationRequest:
    return RegistrationRequest(code=code, tube=tube, point="P01", pool_size=pool_size)


async def test_concurrent_scans_are_bound_in_few_units_each_answered_once_committed() -> None:
    memory = MemoryStorage()
    storage = CountingStorage(memory)
    service = make_service(storage, FakeScanner())  # type: ignore[arg-type]
    answers = await asyncio.gather(
        *(service.bind(req(f"P{n}"), Identified(f"pat-{n}", "测*"), SAMPLER) for n in range(1, 17))
    )
    assert sorted(a.registration.position for a in answers) == list(range(1, 17))
    assert all(a.created for a in answers)
    assert storage.write_units <= 2  # the first scan's unit, then everyone who arrived meanwhile
    async with memory.unit_of_work(read_only=True) as uow:
        assert len(await uow.sampling.members("TUBE0001")) == 16
        records = [r for r in await uow.audit.search(agent="point-7") if r.operation == "sampling register"]
    assert sorted(r.patient_id or "" for r in records) == sorted(f"pat-{n}" for n in range(1, 17))


async def test_without_group_binds_each_scan_binds_in_a_unit_of_its_own() -> None:
    """As wired on PostgreSQL, where units run side by side on pooled connections."""
    memory = MemoryStorage()
    storage = CountingStorage(memory)
    service = make_service(storage, FakeScanner(), group_binds=False)  # type: ignore[arg-type]
    answers = await asyncio.gather(
        *(service.bind(req(f"P{n}"), Identified(f"pat-{n}", "测*"), SAMPLER) for n in range(1, 17))
    )
    assert sorted(a.registration.position for a in answers) == list(range(1, 17))
    assert storage.write_units == 16


def test_binds_are_grouped_except_on_postgresql() -> None:
    from adapter.sampling.wiring import build_sampling
    from adapter.settings import Settings

    def grouped(url: str) -> bool:
        settings = Settings(database_url=url)
        service = build_sampling(settings, None, MemoryStorage(), None, None)  # type: ignore[arg-type]
        return service._binds is not None

    assert grouped("sqlite+aiosqlite:///x.sqlite") and grouped("memory://")
    assert not grouped("postgresql+asyncpg://u@h/db")


async def test_in_a_group_a_refusal_or_a_repeat_answers_only_its_own_scan() -> None:
    service = make_service(MemoryStorage(), FakeScanner())
    small = [
        service.bind(req(f"P{n}", pool_size=5), Identified(f"pat-{n}", "测*"), SAMPLER) for n in range(1, 7)
    ]
    other_size = service.bind(req("P9", pool_size=10), Identified("pat-9", "测*"), SAMPLER)
    again = service.bind(req("P1", pool_size=5), Identified("pat-1", "测*"), SAMPLER)
    answers = await asyncio.gather(*small, other_size, again, return_exceptions=True)
    kinds = [type(a).__name__ for a in answers]
    assert kinds == ["Registered"] * 5 + ["TubeFull", "PoolSizeMismatch", "Registered"]
    assert isinstance(answers[7], Registered) and answers[7].created is False
    assert answers[7].registration.position == 1


async def test_a_scan_that_breaks_the_shared_unit_fails_alone() -> None:
    memory = MemoryStorage()
    service = make_service(BreakingStorage(memory, patient_id="pat-2"), FakeScanner())  # type: ignore[arg-type]
    answers = await asyncio.gather(
        *(service.bind(req(f"P{n}"), Identified(f"pat-{n}", "测*"), SAMPLER) for n in (1, 2, 3)),
        return_exceptions=True,
    )
    assert [type(a).__name__ for a in answers] == ["Registered", "ServiceUnavailable", "Registered"]
    async with memory.unit_of_work(read_only=True) as uow:
        assert [m.patient_id for m in await uow.sampling.members("TUBE0001")] == ["pat-1", "pat-3"]


async def test_the_queue_groups_what_arrives_while_a_group_runs() -> None:
    groups: list[list[int]] = []
    release = asyncio.Event()

    async def run(jobs: Sequence[int]) -> list[int | Exception]:
        groups.append(list(jobs))
        if len(groups) == 1:
            await release.wait()
        return [ValueError(job) if job == 3 else job * 10 for job in jobs]

    queue: GroupQueue[int, int] = GroupQueue(run, max_items=3)
    first = asyncio.ensure_future(queue.submit(0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(queue.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 0
    assert [await later[0], await later[1]] == [10, 20]
    with pytest.raises(ValueError):
        await later[2]
    assert [await later[3], await later[4]] == [40, 50]
    assert groups == [[0], [1, 2, 3], [4, 5]]  # arrival order, at most max_items a group
    assert queue.groups == 3


async def test_a_runner_that_breaks_fails_its_group_and_the_queue_goes_on() -> None:
    calls = 0

    async def run(jobs: Sequence[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ServiceUnavailable("the database went away")
        return list(jobs)

    queue: GroupQueue[int, int] = GroupQueue(run)
    broken = await asyncio.gather(queue.submit(1), queue.submit(2), return_exceptions=True)
    assert [type(a) for a in broken] == [ServiceUnavailable, ServiceUnavailable]
    assert await queue.submit(3) == 3


async def test_a_cancelled_scan_does_not_disturb_its_group() -> None:
    release = asyncio.Event()

    async def run(jobs: Sequence[int]) -> list[int | Exception]:
        await release.wait()
        return list(jobs)

    queue: GroupQueue[int, int] = GroupQueue(run)
    gone = asyncio.ensure_future(queue.submit(1))
    stays = asyncio.ensure_future(queue.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    release.set()
    assert await stays == 2
    with pytest.raises(asyncio.CancelledError):
        await gone
