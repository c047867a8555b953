"""Offline batches: idempotent on client_ref, bound in scan-time order, bad lines reported alone."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapter.errors import InsufficientScope, InvalidBatch
from adapter.sampling import SamplingService
from adapter.sampling.batch import run_batch
from adapter.sampling.values import CLOCK_SKEW
from adapter.storage import MemoryStorage
from tests.unit.sampling.fakes import PHARMACY, SAMPLER, FakeScanner, make_service

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def line(n: int, *, code: str | None = None, tube: str = "TUBE0001", **extra: Any) -> dict[str, Any]:
    return {
        "client_ref": f"scan-{n}",
        "scanned_at": (NOW - timedelta(minutes=30) + timedelta(seconds=n)).isoformat(),
        "code": code or f"P{n}",
        "tube": tube,
        "point": "P01",
        **{"pool_size": 5, **extra},
    }


def ndjson(rows: list[Any]) -> bytes:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
    ).encode()


async def upload(service: SamplingService, rows: list[Any], **options: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"max_lines": 1000, "skew_s": 300.0, "now": NOW, **options}
    return await run_batch(service, ndjson(rows), SAMPLER, **kwargs)


@pytest.fixture
def service() -> SamplingService:
    return make_service(MemoryStorage(), FakeScanner())


async def test_good_lines_land_and_bad_ones_are_reported(service: SamplingService) -> None:
    rows: list[Any] = [
        line(1),
        "{not json",
        line(2, code="EXPIRED"),
        line(3, tube="T-1"),
        {**line(4), "scanned_at": "yesterday"},
        line(5),
        [1, 2],
    ]
    answer = await upload(service, rows)
    assert (answer["received"], answer["created"], answer["rejected"]) == (7, 2, 5)
    statuses = [(a["line"], a["status"]) for a in answer["lines"]]
    assert statuses == [(1, "created"), (2, "rejected"), (3, "rejected"), (4, "rejected"), (5, "rejected"),
                        (6, "created"), (7, "rejected")]  # fmt: skip
    codes = [a["error"]["code"] for a in answer["lines"] if a["status"] == "rejected"]
    assert codes == ["DC-1009", "DC-5102", "DC-6001", "DC-1009", "DC-1009"]
    assert [a.get("position") for a in answer["lines"] if a["status"] == "created"] == [1, 2]


async def test_uploading_twice_creates_nothing_twice(service: SamplingService) -> None:
    rows = [line(n) for n in range(1, 4)]
    first = await upload(service, rows)
    second = await upload(service, rows)
    assert first["created"] == 3 and second["created"] == 0 and second["existing"] == 3
    assert [a["registration"] for a in first["lines"]] == [a["registration"] for a in second["lines"]]
    _, members = await service.view("TUBE0001", SAMPLER)
    assert len(members) == 3


async def test_the_order_of_lines_does_not_change_the_result() -> None:
    rows = [line(n, tube="TUBEAAAA" if n % 2 else "TUBEBBBB", pool_size=10) for n in range(1, 11)]
    rows.append(line(11, code="P1", tube="TUBEBBBB", pool_size=10))  # P1 again, in another tube: flagged
    results = []
    for seed in (1, 2, 3):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        answer = await upload(make_service(MemoryStorage(), FakeScanner()), shuffled)
        by_ref = {
            a["client_ref"]: (a["status"], a["tube"], a["position"], a.get("flags")) for a in answer["lines"]
        }
        results.append(by_ref)
    assert results[0] == results[1] == results[2]
    assert results[0]["scan-1"][:3] == ("created", "TUBEAAAA", 1)
    assert results[0]["scan-11"][3] == [{"code": "registered-in-another-tube", "tubes": ["TUBEAAAA"]}]


async def test_a_repeated_line_in_one_file_is_answered_like_the_first(service: SamplingService) -> None:
    answer = await upload(service, [line(1), line(1)])
    assert answer["created"] == 1
    assert answer["lines"][1]["registration"] == answer["lines"][0]["registration"]
    assert answer["lines"][1]["line"] == 2


async def test_a_full_tube_rejects_the_latest_scans(service: SamplingService) -> None:
    answer = await upload(service, [line(n) for n in range(1, 8)])
    assert [a["status"] for a in answer["lines"]] == ["created"] * 5 + ["rejected"] * 2
    assert answer["lines"][5]["error"]["code"] == "DC-6002"


async def test_client_clocks_ahead_are_flagged_not_refused(service: SamplingService) -> None:
    ahead = {**line(1), "scanned_at": (NOW + timedelta(days=2)).isoformat()}
    behind = {**line(2), "scanned_at": (NOW - timedelta(days=2)).isoformat()}
    answer = await upload(service, [ahead, behind])
    assert [a["status"] for a in answer["lines"]] == ["created", "created"]
    assert answer["lines"][0]["flags"] == [{"code": CLOCK_SKEW}]
    assert answer["lines"][1]["position"] == 1  # the scan-time order, even from a skewed clock
    assert "flags" not in answer["lines"][1]


async def test_batch_limits_and_scope(service: SamplingService) -> None:
    with pytest.raises(InvalidBatch):
        await upload(service, [line(n) for n in range(1, 5)], max_lines=3)
    with pytest.raises(InvalidBatch):
        await upload(service, [])
    with pytest.raises(InvalidBatch):
        await run_batch(service, b"\xff\xfe", SAMPLER, max_lines=10, skew_s=0, now=NOW)
    with pytest.raises(InsufficientScope):
        await run_batch(service, ndjson([line(1)]), PHARMACY, max_lines=10, skew_s=0, now=NOW)


async def test_lines_into_a_closed_tube_are_refused_before_their_codes_are_verified() -> None:
    scanner = FakeScanner()
    service = make_service(MemoryStorage(), scanner)
    await upload(service, [line(1)])
    await service.close("TUBE0001", SAMPLER)
    scans = len(scanner.requests)
    answer = await upload(service, [line(2), line(3, tube="TUBE0002")])
    assert [(a["status"], a.get("error", {}).get("code")) for a in answer["lines"]] == [
        ("rejected", "DC-6003"),
        ("created", None),
    ]
    assert [r.code for r in scanner.requests[scans:]] == ["P3"]  # P2's single-use code was not spent


async def test_a_batch_larger_than_a_chunk_keeps_scan_time_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapter.sampling import batch

    monkeypatch.setattr(batch, "CHUNK", 4)
    monkeypatch.setattr(batch, "BIND_PER_UNIT", 3)
    service = make_service(MemoryStorage(), FakeScanner())
    rows = [line(n, tube=f"TUBE000{n % 2}", pool_size=5) for n in range(1, 14)]
    random.Random(7).shuffle(rows)
    answer = await upload(service, rows)
    by_ref = {a["client_ref"]: a for a in answer["lines"]}
    for tube, refs in (("TUBE0001", range(1, 14, 2)), ("TUBE0000", range(2, 14, 2))):
        statuses = [(by_ref[f"scan-{n}"]["status"], by_ref[f"scan-{n}"].get("position")) for n in refs]
        assert statuses[:5] == [("created", p) for p in range(1, 6)], tube  # scan-time order
        assert all(s == "rejected" for s, _ in statuses[5:])  # the tube was full for the latest
    assert (answer["created"], answer["rejected"]) == (10, 3)


async def test_each_line_bound_is_audited_with_its_registration() -> None:
    storage = MemoryStorage()
    service = make_service(storage, FakeScanner())
    await upload(service, [line(1), line(2), line(9, tube="T-1")])
    await upload(service, [line(1)])  # uploaded again: a read
    await service.audit_writer.flush()
    async with storage.unit_of_work(read_only=True) as uow:
        records = await uow.audit.search(limit=50)
    operations = sorted((r.operation, r.patient_id) for r in records)
    assert operations == [
        ("resolve Patient", "pat-1"),  # identified in the unit that binds the line
        ("resolve Patient", "pat-2"),
        ("sampling batch-existing", "pat-1"),
        ("sampling register", "pat-1"),
        ("sampling register", "pat-2"),
    ]


async def test_the_next_chunk_is_verified_while_one_is_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapter.sampling import batch

    monkeypatch.setattr(batch, "CHUNK", 4)
    scanner = FakeScanner()
    service = make_service(MemoryStorage(), scanner)
    verified_at_bind: list[int] = []
    bind_many = service.bind_many

    async def slow_bind_many(items: Any, caller: Any) -> Any:
        for _ in range(20):  # a unit of work that takes a while
            await asyncio.sleep(0)
        verified_at_bind.append(len(scanner.requests))
        return await bind_many(items, caller)

    monkeypatch.setattr(service, "bind_many", slow_bind_many)
    answer = await upload(service, [line(n, tube=f"TUBE{n // 5:04d}") for n in range(1, 11)])
    assert (answer["created"], answer["rejected"]) == (10, 0)
    assert verified_at_bind == [8, 10, 10]  # chunk 2 verified while chunk 1 was bound, then chunk 3
