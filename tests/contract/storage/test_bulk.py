"""Bulk writes (FhirRepository.create_many, IdentityStore.find_many/link_many): what they store is what
the one-by-one path stores, so reads, searches and lookups through the ports find it, on every backend."""

from __future__ import annotations

import pytest

from adapter.errors import DuplicateKey
from adapter.storage import NewLink, NewResource, SearchToken, Storage
from tests.contract.storage.synthetic import CARD_SYSTEM, ID_SYSTEM, identifier_token, patient


def _bulk_patient(n: int) -> NewResource:
    body = patient(f"TEST-B{n:04d}", id=f"bulk-{n}", name=[{"text": f"Bulk {n}"}])
    tokens = (identifier_token(f"TEST-B{n:04d}"), SearchToken("name", None, f"bulk{n}"))
    return NewResource(body, tokens)


async def test_create_many_is_read_and_searched_like_create(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        assert await uow.resources.create_many([_bulk_patient(n) for n in range(50)]) == 50
        one_by_one, _ = await uow.resources.create(_bulk_patient(99).body, tokens=_bulk_patient(99).tokens)
    async with storage.unit_of_work() as uow:
        read = await uow.resources.read("Patient", "bulk-7")
        by_identifier = await uow.resources.search("Patient", [identifier_token("TEST-B0007")])
        by_any_system = await uow.resources.search("Patient", [identifier_token("TEST-B0007", None)])
        by_name = await uow.resources.search("Patient", [SearchToken("name", "", "bulk7")])
        history = await uow.resources.history("Patient", "bulk-7")
        later = await uow.resources.read("Patient", one_by_one.id)
    assert read.version_id == 1 and not read.deleted
    assert read.body["meta"]["versionId"] == "1" and read.body["identifier"][0]["value"] == "TEST-B0007"
    assert (
        [r.id for r in by_identifier]
        == [r.id for r in by_any_system]
        == [r.id for r in by_name]
        == ["bulk-7"]
    )
    assert history == [read]
    # The same shape as a one-by-one create: only id, values and meta differ.
    assert set(read.body) == set(later.body) and set(read.body["meta"]) == set(later.body["meta"])


async def test_create_many_then_update_bumps_the_version(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.resources.create_many([_bulk_patient(1)])
    async with storage.unit_of_work() as uow:
        body = {**_bulk_patient(1).body, "active": False}
        updated, created = await uow.resources.update(body, tokens=[identifier_token("TEST-X")], if_match=1)
    assert (updated.version_id, created) == (2, False)
    async with storage.unit_of_work() as uow:
        assert await uow.resources.search("Patient", [identifier_token("TEST-B0001")]) == []
        assert [r.id for r in await uow.resources.search("Patient", [identifier_token("TEST-X")])] == [
            "bulk-1"
        ]


async def test_create_many_refuses_an_existing_id_and_writes_nothing(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.resources.create_many([_bulk_patient(1)])
    with pytest.raises(DuplicateKey):
        async with storage.unit_of_work() as uow:
            await uow.resources.create_many([_bulk_patient(2), _bulk_patient(1)])
    async with storage.unit_of_work() as uow:
        assert await uow.resources.search("Patient", [identifier_token("TEST-B0002")]) == []
        assert (await uow.resources.read("Patient", "bulk-1")).version_id == 1


async def test_link_many_links_and_reports_what_another_patient_holds(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        mine = await uow.identities.link(ID_SYSTEM, "TEST-2001", "pat-a")
        held = await uow.identities.link_many(
            [
                NewLink(ID_SYSTEM, "TEST-2001", "pat-b"),  # pat-a's: reported, not overwritten
                NewLink(CARD_SYSTEM, "CARD-2001", "pat-b", flagged=True, note="check"),
                NewLink(ID_SYSTEM, "TEST-2002", "pat-b"),
                NewLink(ID_SYSTEM, "TEST-2002", "pat-c"),  # the same identifier twice: first wins
                NewLink(ID_SYSTEM, "TEST-2003", "pat-a"),
            ]
        )
    assert [(h.value, h.patient_id) for h in held] == [
        ("TEST-2001", "pat-a"),
        ("CARD-2001", "pat-b"),
        ("TEST-2002", "pat-b"),
        ("TEST-2002", "pat-b"),
        ("TEST-2003", "pat-a"),
    ]
    assert held[0] == mine
    assert (held[1].flagged, held[1].note) == (True, "check")
    async with storage.unit_of_work() as uow:
        assert await uow.identities.find(CARD_SYSTEM, "CARD-2001") == held[1]
        assert [link.value for link in await uow.identities.links_for("pat-b")] == ["CARD-2001", "TEST-2002"]
        # Linking again is a no-op that returns the links as they are.
        again = await uow.identities.link_many([NewLink(ID_SYSTEM, "TEST-2003", "pat-a")])
        assert again == [held[4]]


async def test_find_many_returns_only_linked_keys(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.identities.link_many(
            [NewLink(ID_SYSTEM, f"TEST-3{n:03d}", f"pat-{n}") for n in range(700)]  # > one IN list
        )
    async with storage.unit_of_work(read_only=True) as uow:
        keys = [(ID_SYSTEM, f"TEST-3{n:03d}") for n in range(0, 800, 7)] + [(CARD_SYSTEM, "TEST-3000")]
        found = await uow.identities.find_many(keys)
        single = await uow.identities.find(ID_SYSTEM, "TEST-3007")
    assert sorted(found) == sorted(k for k in keys if k[0] == ID_SYSTEM and int(k[1][-3:]) < 700)
    assert found[(ID_SYSTEM, "TEST-3007")] == single
    assert found[(ID_SYSTEM, "TEST-3007")].patient_id == "pat-7"


async def test_bulk_writes_roll_back_with_the_unit_of_work(storage: Storage) -> None:
    with pytest.raises(RuntimeError):
        async with storage.unit_of_work() as uow:
            await uow.resources.create_many([_bulk_patient(5)])
            await uow.identities.link_many([NewLink(ID_SYSTEM, "TEST-4001", "bulk-5")])
            raise RuntimeError("abort")
    async with storage.unit_of_work() as uow:
        assert await uow.identities.find(ID_SYSTEM, "TEST-4001") is None
        assert await uow.resources.search("Patient", [identifier_token("TEST-B0005")]) == []
