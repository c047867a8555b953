"""SamplingStore contract: memory, SQLite and PostgreSQL alike, including real concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapter.errors import DuplicateKey, ResourceNotFound
from adapter.storage import SqlStorage, Storage, Vault
from adapter.storage.records import SamplingPlacement, SamplingRegistration

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def registration(tube: str, position: int, patient: str, **extra: object) -> SamplingRegistration:
    fields: dict[str, object] = {
        "id": f"reg-{tube}-{position}-{patient}",
        "tube": tube,
        "position": position,
        "patient_id": patient,
        "round": "R1",
        "point": "P01",
        "registered_at": NOW,
        "actor": "client-1",
        "name_masked": "张*",
    }
    fields.update(extra)
    return SamplingRegistration(**fields)  # type: ignore[arg-type]


async def test_open_tube_creates_once_and_never_changes_it(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        tube = await uow.sampling.open_tube(barcode="TUBE0001", round="R1", point="P01", pool_size=10)
        again = await uow.sampling.open_tube(barcode="TUBE0001", round="R2", point="P02", pool_size=5)
    assert (tube.pool_size, tube.filled, tube.status) == (10, 0, "open")
    assert (again.round, again.point, again.pool_size) == ("R1", "P01", 10)
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.sampling.get_tube("TUBE0001") == again
        assert await uow.sampling.get_tube("NOPE0001") is None
        assert await uow.sampling.lock_tube("NOPE0001") is None


async def test_registrations_fill_the_tube_in_position_order(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.sampling.open_tube(barcode="TUBE0002", round="R1", point="P01", pool_size=5)
        for position in (1, 2, 3, 4, 5):
            await uow.sampling.add(registration("TUBE0002", position, f"pat-{position}"))
    async with storage.unit_of_work(read_only=True) as uow:
        tube = await uow.sampling.get_tube("TUBE0002")
        members = await uow.sampling.members("TUBE0002")
        found = await uow.sampling.member("TUBE0002", "pat-3")
    assert tube is not None and (tube.filled, tube.status) == (5, "full")
    assert [m.position for m in members] == [1, 2, 3, 4, 5]
    assert found == registration("TUBE0002", 3, "pat-3")


@pytest.mark.parametrize(
    "clash",
    [
        {"position": 1, "patient_id": "pat-other"},  # the position is taken
        {"position": 2, "patient_id": "pat-1"},  # the person already has a position
        {"position": 2, "patient_id": "pat-other", "client_ref": "scan-1"},  # the client's scan id is known
    ],
)
async def test_uniqueness_rules_hold(storage: Storage, clash: dict[str, object]) -> None:
    async with storage.unit_of_work() as uow:
        await uow.sampling.open_tube(barcode="TUBE0003", round="R1", point="P01", pool_size=10)
        await uow.sampling.add(registration("TUBE0003", 1, "pat-1", client_ref="scan-1"))
    with pytest.raises(DuplicateKey):
        async with storage.unit_of_work() as uow:
            extra = dict(clash)
            position, patient = extra.pop("position"), extra.pop("patient_id")
            await uow.sampling.add(registration("TUBE0003", position, patient, id="other", **extra))  # type: ignore[arg-type]
    async with storage.unit_of_work(read_only=True) as uow:
        tube = await uow.sampling.get_tube("TUBE0003")
        assert tube is not None and tube.filled == 1  # the failed unit left nothing behind
        stored = await uow.sampling.by_client_ref("scan-1")
        assert stored is not None and stored.patient_id == "pat-1"


async def test_status_result_and_listing(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        for n, round_name in enumerate(("R1", "R1", "R2"), start=1):
            await uow.sampling.open_tube(barcode=f"TUBE010{n}", round=round_name, point="P01", pool_size=5)
        await uow.sampling.add(registration("TUBE0101", 1, "pat-1"))
        await uow.sampling.add(registration("TUBE0102", 1, "pat-1", id="second"))
        closed = await uow.sampling.set_status("TUBE0101", "closed", at=NOW)
        await uow.sampling.set_status("TUBE0102", "closed", at=NOW + timedelta(hours=1))
        positive = await uow.sampling.set_result("TUBE0102", "positive", at=NOW + timedelta(hours=5))
        with pytest.raises(ResourceNotFound):
            await uow.sampling.set_status("NOPE0001", "closed", at=NOW)
    assert closed.closed_at == NOW and positive.result == "positive"
    async with storage.unit_of_work(read_only=True) as uow:
        assert [t.barcode for t in await uow.sampling.list_tubes(status="closed")] == ["TUBE0101", "TUBE0102"]
        later = await uow.sampling.list_tubes(closed_since=NOW + timedelta(minutes=1))
        assert [t.barcode for t in later] == ["TUBE0102"]
        assert [t.barcode for t in await uow.sampling.list_tubes(round="R2")] == ["TUBE0103"]
        assert [t.barcode for t in await uow.sampling.list_tubes(result="positive")] == ["TUBE0102"]
        assert len(await uow.sampling.list_tubes(limit=1)) == 1
        assert await uow.sampling.tubes_of("pat-1", "R1") == ["TUBE0101", "TUBE0102"]
        assert await uow.sampling.tubes_of("pat-1", "R2") == []
        assert await uow.sampling.members("NOPE0001") == []


async def _register(storage: Storage, tube: str, patient: str) -> int:
    """What the sampling service does: lock the tube, take the next position, add."""
    async with storage.unit_of_work() as uow:
        locked = await uow.sampling.open_tube(barcode=tube, round="R1", point="P01", pool_size=20)
        await asyncio.sleep(0.01)  # let the others try meanwhile
        position = locked.filled + 1
        await uow.sampling.add(registration(tube, position, patient))
        return position


async def test_concurrent_registrations_never_share_a_position(storage: Storage) -> None:
    positions = await asyncio.gather(*(_register(storage, "TUBE0201", f"pat-{n}") for n in range(12)))
    assert sorted(positions) == list(range(1, 13))


async def test_concurrent_registrations_from_several_processes(sql_url: str) -> None:
    vault = Vault.generate()
    storages = [SqlStorage(sql_url, vault, pool_size=4) for _ in range(3)]
    try:
        jobs = [_register(storages[n % 3], "TUBE0301", f"pat-{n}") for n in range(15)]
        positions = await asyncio.gather(*jobs)
    finally:
        for each in storages:
            await each.close()
    assert sorted(positions) == list(range(1, 16))


async def _place(
    storage: Storage, tube: str, patient: str, *, pool_size: int = 20, **extra: object
) -> SamplingPlacement:
    wanted = registration(tube, 0, patient, id=f"reg-{tube}-{patient}-{extra.get('client_ref')}", **extra)
    async with storage.unit_of_work() as uow:
        return await uow.sampling.place(wanted, pool_size=pool_size)


async def test_place_counts_people_in_and_refuses_without_writing(storage: Storage) -> None:
    placed = [
        await _place(storage, "TUBE0401", f"pat-{n}", pool_size=5, client_ref=f"ref-{n}")
        for n in (1, 2, 3, 4, 5)
    ]
    assert [p.registration.position for p in placed if p.registration] == [1, 2, 3, 4, 5]
    assert all(p.created for p in placed)
    assert (placed[0].tube.filled, placed[0].tube.status, placed[0].tube.round) == (1, "open", "R1")
    assert (placed[-1].tube.filled, placed[-1].tube.status) == (5, "full")
    again = await _place(storage, "TUBE0401", "pat-3", pool_size=5)  # full, but a member: theirs back
    assert not again.created and again.registration is not None and again.registration.position == 3
    full = await _place(storage, "TUBE0401", "pat-9", pool_size=5)
    assert (full.registration, full.created, full.tube.filled, full.tube.status) == (None, False, 5, "full")
    async with storage.unit_of_work(read_only=True) as uow:
        assert [m.patient_id for m in await uow.sampling.members("TUBE0401")] == [
            f"pat-{n}" for n in range(1, 6)
        ]
        refs = await uow.sampling.by_client_refs(["ref-2", "nope", "ref-5", "ref-2"])
    assert {ref: r.position for ref, r in refs.items()} == {"ref-2": 2, "ref-5": 5}


async def test_place_says_whether_the_person_is_in_another_tube_of_the_round(storage: Storage) -> None:
    first = await _place(storage, "TUBE0601", "pat-1")  # a new tube
    second = await _place(storage, "TUBE0602", "pat-1")  # the same round, another tube
    other = await _place(storage, "TUBE0602", "pat-2")  # an existing tube
    next_round = await _place(storage, "TUBE0603", "pat-1", round="R2")
    assert [p.in_other_tubes for p in (first, second, other, next_round)] == [False, True, False, False]
    again = await _place(storage, "TUBE0602", "pat-1")
    assert not again.created and again.in_other_tubes is None  # not looked at: ask tubes_of
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.sampling.tubes_of("pat-1", "R1") == ["TUBE0601", "TUBE0602"]


async def test_place_keeps_an_existing_tube_and_its_people_as_they_are(storage: Storage) -> None:
    first = await _place(storage, "TUBE0402", "pat-1", pool_size=10, client_ref="ref-a")
    again = await _place(storage, "TUBE0402", "pat-1", pool_size=10, client_ref="ref-b")
    assert first.created and not again.created and again.registration == first.registration
    known_ref = await _place(storage, "TUBE0403", "pat-2", pool_size=10, client_ref="ref-a")  # ref stored
    assert not known_ref.created and known_ref.registration == first.registration
    other_size = await _place(storage, "TUBE0402", "pat-3", pool_size=5)
    other_point = await _place(storage, "TUBE0402", "pat-3", pool_size=10, point="P99")
    assert other_size.registration is None and other_point.registration is None
    async with storage.unit_of_work() as uow:
        await uow.sampling.set_status("TUBE0402", "closed", at=NOW)
    closed = await _place(storage, "TUBE0402", "pat-4", pool_size=10)
    assert closed.registration is None and closed.tube.status == "closed"
    async with storage.unit_of_work(read_only=True) as uow:
        tube = await uow.sampling.get_tube("TUBE0402")
        assert tube is not None and tube.filled == 1  # nothing counted twice, nothing refused counted
        assert await uow.sampling.get_tube("TUBE0403") is None  # a known client_ref opened no tube
        assert await uow.sampling.tubes_of("pat-1", "R1") == ["TUBE0402"]


async def test_place_from_several_processes_fills_each_position_once(sql_url: str) -> None:
    vault = Vault.generate()
    storages = [SqlStorage(sql_url, vault, pool_size=4) for _ in range(3)]
    try:
        jobs = [_place(storages[n % 3], "TUBE0501", f"pat-{n % 24}", pool_size=20) for n in range(30)]
        placed = await asyncio.gather(*jobs)  # 24 people, 6 of them twice, into a tube of 20
    finally:
        for each in storages:
            await each.close()
    created = [p.registration for p in placed if p.created and p.registration is not None]
    assert sorted(r.position for r in created) == list(range(1, 21))
    assert len({r.patient_id for r in created}) == 20
    for p in placed:
        if not p.created and p.registration is not None:  # a repeat: the person's one registration
            assert p.registration in created
    assert sum(1 for p in placed if p.registration is None) >= 4  # the tube was full for the rest
