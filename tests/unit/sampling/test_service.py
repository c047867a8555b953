"""Registering people into pooled tubes: positions, repeats, full and closed tubes, flags, audit."""

from __future__ import annotations

import asyncio
import re

import pytest

from adapter.errors import (
    CardCodeExpired,
    InsufficientScope,
    InvalidRequest,
    InvalidTubeBarcode,
    PoolSizeMismatch,
    TubeAtAnotherPoint,
    TubeClosed,
    TubeFull,
    TubeNotFound,
)
from adapter.sampling import RegistrationRequest, SamplingService
from adapter.sampling.values import OTHER_TUBE, request_from_json
from adapter.storage import MemoryStorage
from tests.unit.sampling.fakes import PHARMACY, SAMPLER, FakeScanner, make_service

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
    assert {r.operation for r in records} == {"sampling register", "sampling read-tube"}
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
