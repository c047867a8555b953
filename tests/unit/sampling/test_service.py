"""Registering people into pooled tubes: positions, repeats, full and closed tubes, flags, audit."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from adapter.errors import (
    CardCodeExpired,
    InsufficientScope,
    InvalidRequest,
    InvalidTubeBarcode,
    PoolSizeMismatch,
    ServiceUnavailable,
    TubeAtAnotherPoint,
    TubeClosed,
    TubeFull,
    TubeNotFound,
)
from adapter.sampling import Registered, RegistrationRequest, SamplingService
from adapter.sampling.service import Identified, TubeMemo
from adapter.sampling.values import OTHER_TUBE, request_from_json
from adapter.storage import MemoryStorage
from adapter.storage.records import SamplingRegistration, SamplingTube
from tests.unit.sampling.fakes import PHARMACY, SAMPLER, FakeScanner, make_service

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
PATTERN = re.compile("[A-Za-z0-9]{8,20}")


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def scanner() -> FakeScanner:
    return FakeScanner()


@pytest.fixture
def service(storage: MemoryStorage, scanner: FakeScanner) -> SamplingService:
    return make_service(storage, scanner)


def req(code: str, tube: str = "TUBE0001", pool_size: int = 5, point: str = "P01") -> RegistrationRequest:
    return RegistrationRequest(code=code, tube=tube, point=point, pool_size=pool_size)


async def test_first_scan_opens_the_tube_and_takes_position_one(
    service: SamplingService, scanner: FakeScanner
) -> None:
    answer = (await service.register(req("P1"), SAMPLER)).to_json()
    assert answer["created"] is True
    assert answer["patient"] == "Patient/pat-1"
    assert (answer["tube"], answer["position"], answer["pool_size"]) == ("TUBE0001", 1, 5)
    assert (answer["tube_status"], answer["name_masked"], answer["round"]) == ("open", "测**", "2026-11-29")
    assert "flags" not in answer
    scanned = scanner.requests[0]
    assert (scanned.step, scanned.organization) == ("sampling", "P01")  # the $resolve-card path


async def test_the_same_person_again_gets_the_same_registration(service: SamplingService) -> None:
    first = await service.register(req("P1"), SAMPLER)
    await service.register(req("P2"), SAMPLER)
    again = await service.register(req("P1"), SAMPLER)
    assert again.created is False
    assert again.registration == first.registration
    assert again.tube.filled == 2


async def test_the_tube_fills_then_refuses_more(service: SamplingService) -> None:
    answers = [await service.register(req(f"P{n}"), SAMPLER) for n in range(1, 6)]
    assert [a.registration.position for a in answers] == [1, 2, 3, 4, 5]
    assert [a.tube.status for a in answers] == ["open"] * 4 + ["full"]
    with pytest.raises(TubeFull, match="full"):
        await service.register(req("P6"), SAMPLER)
    assert (await service.register(req("P5"), SAMPLER)).created is False  # a member is still found


async def test_a_closed_tube_refuses_and_is_not_scanned_first(
    service: SamplingService, scanner: FakeScanner, storage: MemoryStorage
) -> None:
    await service.register(req("P1"), SAMPLER)
    closed = await service.close("TUBE0001", SAMPLER)
    assert closed.status == "closed" and closed.closed_at is not None
    assert (await service.close("TUBE0001", SAMPLER)).closed_at == closed.closed_at  # idempotent
    scans = len(scanner.requests)
    with pytest.raises(TubeClosed):
        await service.register(req("P2"), SAMPLER)
    assert len(scanner.requests) == scans  # the person's single-use code was not spent
    async with storage.unit_of_work(read_only=True) as uow:
        events = await uow.outbox.list()
    assert [e.topic for e in events] == ["sampling.tube-closed"]
    assert events[0].payload["members"] == [{"position": 1, "patient": "Patient/pat-1"}]


@pytest.mark.parametrize("group_binds", [True, False])
async def test_a_refused_scan_keeps_its_identification_audited(
    storage: MemoryStorage, scanner: FakeScanner, group_binds: bool
) -> None:
    service = make_service(storage, scanner, group_binds=group_binds)
    for n in range(1, 6):
        await service.register(req(f"P{n}"), SAMPLER)
    with pytest.raises(TubeFull):
        await service.register(req("P6"), SAMPLER)  # identified in the bind's unit, then refused
    async with storage.unit_of_work(read_only=True) as uow:
        records = await uow.audit.search(patient_id="pat-6")
        assert await uow.sampling.tubes_of("pat-6", "2026-11-29") == []
    assert [(r.operation, r.agent) for r in records] == [("resolve Patient", SAMPLER.client_id)]


async def test_pool_size_and_point_are_fixed_by_the_first_registration(service: SamplingService) -> None:
    await service.register(req("P1", pool_size=10), SAMPLER)
    with pytest.raises(PoolSizeMismatch):
        await service.register(req("P2", pool_size=20), SAMPLER)
    with pytest.raises(TubeAtAnotherPoint):
        await service.register(req("P2", pool_size=10, point="P02"), SAMPLER)


async def test_the_same_person_in_two_tubes_of_a_round_is_flagged(service: SamplingService) -> None:
    await service.register(req("P1", tube="TUBEAAAA"), SAMPLER)
    second = (await service.register(req("P1", tube="TUBEBBBB"), SAMPLER)).to_json()
    assert second["created"] is True
    assert second["flags"] == [{"code": OTHER_TUBE, "tubes": ["TUBEAAAA"]}]


async def test_a_refused_code_stores_nothing(service: SamplingService, storage: MemoryStorage) -> None:
    with pytest.raises(CardCodeExpired):
        await service.register(req("EXPIRED"), SAMPLER)
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.sampling.get_tube("TUBE0001") is None


async def test_only_sampling_and_admin_clients_register(service: SamplingService) -> None:
    with pytest.raises(InsufficientScope):
        await service.register(req("P1"), PHARMACY)
    with pytest.raises(InsufficientScope):
        await service.view("TUBE0001", PHARMACY)


async def test_concurrent_scans_into_one_tube_get_distinct_positions(service: SamplingService) -> None:
    answers = await asyncio.gather(
        *(service.register(req(f"P{n}", pool_size=10), SAMPLER) for n in range(10))
    )
    assert sorted(a.registration.position for a in answers) == list(range(1, 11))
    assert max(a.tube.filled for a in answers) == 10


async def test_registrations_are_audited_and_members_masked(
    service: SamplingService, storage: MemoryStorage
) -> None:
    await service.register(req("P1"), SAMPLER)
    _, members = await service.view("TUBE0001", SAMPLER)
    assert [m.name_masked for m in members] == ["测**"]
    await service.audit_writer.flush()
    async with storage.unit_of_work(read_only=True) as uow:
        records = await uow.audit.search(patient_id="pat-1")
    assert {r.operation for r in records} == {"resolve Patient", "sampling register", "sampling read-tube"}
    with pytest.raises(TubeNotFound):
        await service.view("NOPE0001", SAMPLER)


def test_requests_are_checked_before_anything_else() -> None:
    good = {"code": "P1", "tube": "TUBE0001", "point": "P01", "pool_size": 10}
    assert request_from_json(good, pattern=PATTERN, default_point=None).pool_size == 10
    with pytest.raises(InvalidTubeBarcode):
        request_from_json({**good, "tube": "T-1"}, pattern=PATTERN, default_point=None)
    for bad in ({"pool_size": 7}, {"pool_size": True}, {"code": ""}, {"kind": "passport"}, {"point": None}):
        with pytest.raises(InvalidRequest):
            request_from_json({**good, **bad}, pattern=PATTERN, default_point=None)
    assert request_from_json({**good, "point": None}, pattern=PATTERN, default_point="ORG1").point == "ORG1"


async def test_the_round_is_configurable(storage: MemoryStorage, scanner: FakeScanner) -> None:
    service = make_service(storage, scanner, round_name="2026-城区第3轮")
    assert (await service.register(req("P1"), SAMPLER)).registration.round == "2026-城区第3轮"


async def test_many_binds_share_a_unit_and_one_refusal_does_not_stop_the_others(
    service: SamplingService, storage: MemoryStorage
) -> None:
    items = [(req(f"P{n}"), Identified(f"pat-{n}", "测*")) for n in range(1, 8)]
    items.insert(2, (req("P9", pool_size=10), Identified("pat-9", "测*")))  # another pool size: refused
    answers = await service.bind_many(items, SAMPLER)
    kinds = [type(a).__name__ for a in answers]
    assert kinds == ["Registered"] * 2 + ["PoolSizeMismatch"] + ["Registered"] * 3 + ["TubeFull"] * 2
    assert [a.registration.position for a in answers if isinstance(a, Registered)] == [1, 2, 3, 4, 5]


async def test_a_unit_that_breaks_is_redone_one_item_at_a_time(storage: MemoryStorage) -> None:
    """An unexpected error inside the shared unit rolls it back; each item is then bound on its own,
    so only the item that breaks fails."""
    broken = BreakingStorage(storage, patient_id="pat-2")
    service = make_service(broken, FakeScanner())  # type: ignore[arg-type]
    items = [(req(f"P{n}"), Identified(f"pat-{n}", "测*")) for n in (1, 2, 3)]
    answers = await service.bind_many(items, SAMPLER)
    assert [type(a).__name__ for a in answers] == ["Registered", "ServiceUnavailable", "Registered"]
    assert [a.registration.position for a in answers if isinstance(a, Registered)] == [1, 2]
    async with storage.unit_of_work(read_only=True) as uow:
        assert [m.patient_id for m in await uow.sampling.members("TUBE0001")] == ["pat-1", "pat-3"]


class BreakingStorage:
    """A storage whose sampling store fails (as a database would) when placing one given person."""

    def __init__(self, storage: MemoryStorage, *, patient_id: str) -> None:
        self._storage, self._patient_id = storage, patient_id

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False, grouped: bool = False) -> AsyncIterator[Any]:
        async with self._storage.unit_of_work(read_only=read_only, grouped=grouped) as uow:
            yield _BreakingUnit(uow, self._patient_id)


class _BreakingUnit:
    def __init__(self, uow: Any, patient_id: str) -> None:
        self._uow, self._patient_id = uow, patient_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    @property
    def sampling(self) -> Any:
        store, patient_id = self._uow.sampling, self._patient_id

        class Store:
            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

            async def place(self, registration: SamplingRegistration, *, pool_size: int) -> Any:
                if registration.patient_id == patient_id:
                    raise ServiceUnavailable("the database went away")
                return await store.place(registration, pool_size=pool_size)

        return Store()


async def test_the_pre_check_trusts_a_tube_it_saw_for_a_moment_only(
    storage: MemoryStorage, scanner: FakeScanner
) -> None:
    """A tube closed by another process: within the memo's time the code is verified and the bind
    refuses; after it, the pre-check refuses before the code is verified."""
    service = make_service(storage, scanner, precheck_ttl_s=60.0)
    await service.register(req("P1"), SAMPLER)
    async with storage.unit_of_work() as uow:  # another process closes it
        await uow.sampling.set_status("TUBE0001", "closed", at=NOW)
    with pytest.raises(TubeClosed):
        await service.register(req("P2"), SAMPLER)
    assert [r.code for r in scanner.requests] == ["P1", "P2"]  # remembered open: P2 was verified
    fresh = make_service(storage, scanner, precheck_ttl_s=0.0)
    await fresh.register(req("P3", tube="TUBE0002"), SAMPLER)
    async with storage.unit_of_work() as uow:
        await uow.sampling.set_status("TUBE0002", "closed", at=NOW)
    with pytest.raises(TubeClosed):
        await fresh.register(req("P4", tube="TUBE0002"), SAMPLER)
    assert [r.code for r in scanner.requests][-1] == "P3"  # read again: P4 was not verified


def test_the_tube_memo_keeps_the_newest_tubes() -> None:
    memo = TubeMemo(ttl_s=60.0, size=3)
    for n in range(5):
        memo.put(SamplingTube(barcode=f"TUBE000{n}", round="R", point="P", pool_size=5, opened_at=NOW))
    assert [memo.get(f"TUBE000{n}") is not None for n in range(5)] == [False, False, True, True, True]
