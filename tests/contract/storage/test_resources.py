"""FhirRepository contract: versions, If-Match, conditional create, errors."""

from __future__ import annotations

from datetime import UTC

import pytest

from adapter.errors import (
    DuplicateKey,
    InvalidId,
    InvalidResource,
    MultipleMatches,
    ResourceGone,
    ResourceNotFound,
    VersionConflict,
)
from adapter.storage import SearchToken, Storage
from tests.contract.storage.synthetic import identifier_token, patient


async def test_create_assigns_id_and_version_one(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        stored, created = await uow.resources.create(patient("TEST-0001"))
    assert created
    assert stored.version_id == 1 and not stored.deleted
    assert stored.last_updated.tzinfo is UTC
    assert stored.body["id"] == stored.id
    assert stored.body["meta"]["versionId"] == "1"
    assert stored.body["meta"]["lastUpdated"].endswith("Z")
    async with storage.unit_of_work() as uow:
        read = await uow.resources.read("Patient", stored.id)
    assert read == stored


async def test_create_with_given_id_and_duplicate(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        stored, _ = await uow.resources.create(patient(id="pat-1"))
        assert stored.id == "pat-1"
        with pytest.raises(DuplicateKey):
            await uow.resources.create(patient(id="pat-1"))


@pytest.mark.parametrize("bad_id", ["", "has space", "x" * 65, "中文"])
async def test_create_rejects_invalid_id(storage: Storage, bad_id: str) -> None:
    async with storage.unit_of_work() as uow:
        with pytest.raises(InvalidId):
            await uow.resources.create(patient(id=bad_id))


async def test_create_requires_resource_type(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        with pytest.raises(InvalidResource):
            await uow.resources.create({"id": "x"})


async def test_body_is_never_shared_with_the_caller(storage: Storage) -> None:
    body = patient("TEST-0002")
    async with storage.unit_of_work() as uow:
        stored, _ = await uow.resources.create(body)
        body["identifier"][0]["value"] = "CHANGED"
        stored.body["identifier"][0]["value"] = "CHANGED"
        again = await uow.resources.read("Patient", stored.id)
    assert again.body["identifier"][0]["value"] == "TEST-0002"
    assert "id" not in body and "meta" not in body


async def test_not_found_errors(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        stored, _ = await uow.resources.create(patient())
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Patient", "missing")
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Observation", stored.id)
        with pytest.raises(ResourceNotFound):
            await uow.resources.vread("Patient", stored.id, 2)
        with pytest.raises(ResourceNotFound):
            await uow.resources.vread("Patient", "missing", 1)
        with pytest.raises(ResourceNotFound):
            await uow.resources.history("Patient", "missing")
        with pytest.raises(ResourceNotFound):
            await uow.resources.delete("Patient", "missing")


async def test_update_with_if_match(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        first, _ = await uow.resources.create(patient("TEST-0003"))
        second, created = await uow.resources.update({**first.body, "active": True}, if_match=1)
        assert not created and second.version_id == 2 and second.body["meta"]["versionId"] == "2"
        third, _ = await uow.resources.update({**second.body, "active": False})
        assert third.version_id == 3
        with pytest.raises(VersionConflict):
            await uow.resources.update({**third.body, "active": True}, if_match=2)
        assert (await uow.resources.read("Patient", first.id)).version_id == 3
        assert (await uow.resources.vread("Patient", first.id, 2)).body["active"] is True
        assert second.last_updated < third.last_updated


async def test_update_as_create(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        stored, created = await uow.resources.update(patient(id="client-chosen"))
        assert created and stored.version_id == 1
        with pytest.raises(VersionConflict):
            await uow.resources.update(patient(id="never-existed"), if_match=1)
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Patient", "never-existed")
        with pytest.raises(InvalidId):
            await uow.resources.update(patient())


async def test_conditional_create(storage: Storage) -> None:
    condition = [identifier_token("TEST-0004")]
    async with storage.unit_of_work() as uow:
        first, created = await uow.resources.create(
            patient("TEST-0004"), tokens=condition, if_none_exist=condition
        )
        assert created
        again, created = await uow.resources.create(
            patient("TEST-0004"), tokens=condition, if_none_exist=condition
        )
        assert not created and again == first
        await uow.resources.create(patient("TEST-0004"), tokens=condition)  # unconditional: a 2nd
        with pytest.raises(MultipleMatches):
            await uow.resources.create(patient("TEST-0004"), tokens=condition, if_none_exist=condition)
        assert len(await uow.resources.search("Patient", condition)) == 2


async def test_search_by_identifier_with_and_without_system(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        a, _ = await uow.resources.create(patient("TEST-0005"), tokens=[identifier_token("TEST-0005")])
        b, _ = await uow.resources.create(
            patient("TEST-0005", system="urn:oid:2.999.9"),
            tokens=[identifier_token("TEST-0005", "urn:oid:2.999.9")],
        )
        c, _ = await uow.resources.create(patient(), tokens=[identifier_token("TEST-0005", None)])
        search = uow.resources.search
        assert [r.id for r in await search("Patient", [identifier_token("TEST-0005")])] == [a.id]
        assert [r.id for r in await search("Patient", [identifier_token("TEST-0005", None)])] == [
            c.id,
            b.id,
            a.id,
        ]
        assert [r.id for r in await search("Patient", [identifier_token("TEST-0005", "")])] == [c.id]
        assert await search("Patient", [identifier_token("TEST-9999", None)]) == []
        assert await search("Observation", [identifier_token("TEST-0005", None)]) == []


async def test_search_is_and_and_follows_updates_and_deletes(storage: Storage) -> None:
    active = SearchToken("active", None, "true")
    async with storage.unit_of_work() as uow:
        a, _ = await uow.resources.create(
            patient("TEST-0006"), tokens=[identifier_token("TEST-0006"), active]
        )
        await uow.resources.create(patient("TEST-0006"), tokens=[identifier_token("TEST-0006")])
        both = [identifier_token("TEST-0006"), active]
        assert [r.id for r in await uow.resources.search("Patient", both)] == [a.id]
        await uow.resources.update(patient("TEST-0007", id=a.id), tokens=[identifier_token("TEST-0007")])
        assert await uow.resources.search("Patient", both) == []
        found = await uow.resources.search("Patient", [identifier_token("TEST-0007")])
        assert [(r.id, r.version_id) for r in found] == [(a.id, 2)]
        await uow.resources.delete("Patient", a.id)
        assert await uow.resources.search("Patient", [identifier_token("TEST-0007")]) == []


async def test_search_order_limit_offset(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        ids = [(await uow.resources.create(patient(id=f"p{i}")))[0].id for i in range(5)]
        await uow.resources.update(patient(id="p1", active=True))  # p1 becomes the newest
        await uow.resources.create({"resourceType": "Observation", "status": "final"})
        everything = [r.id for r in await uow.resources.search("Patient", [])]
        assert everything == ["p1", "p4", "p3", "p2", "p0"]
        page = await uow.resources.search("Patient", [], limit=2, offset=1)
        assert [r.id for r in page] == ["p4", "p3"]
        assert set(ids) == set(everything)


async def test_history_and_delete(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        first, _ = await uow.resources.create(patient(id="hist"))
        await uow.resources.update(patient(id="hist", active=True))
        gone = await uow.resources.delete("Patient", "hist")
        assert gone.deleted and gone.version_id == 3
        assert (await uow.resources.delete("Patient", "hist")).version_id == 3  # nothing new
        with pytest.raises(ResourceGone):
            await uow.resources.read("Patient", "hist")
        with pytest.raises(ResourceGone):
            await uow.resources.vread("Patient", "hist", 3)
        assert (await uow.resources.vread("Patient", "hist", 1)) == first
        with pytest.raises(DuplicateKey):
            await uow.resources.create(patient(id="hist"))
        history = await uow.resources.history("Patient", "hist")
        assert [(r.version_id, r.deleted) for r in history] == [(3, True), (2, False), (1, False)]
        revived, created = await uow.resources.update(patient(id="hist"))
        assert not created and revived.version_id == 4
        assert (await uow.resources.read("Patient", "hist")).version_id == 4


async def test_current_version_follows_updates_and_deletes(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        assert await uow.resources.current_version("Patient", "ver") is None
        await uow.resources.create(patient(id="ver"))
        assert await uow.resources.current_version("Patient", "ver") == 1
        assert await uow.resources.current_version("Observation", "ver") is None
        await uow.resources.update(patient(id="ver", active=True))
        assert await uow.resources.current_version("Patient", "ver") == 2
        await uow.resources.delete("Patient", "ver")
        assert await uow.resources.current_version("Patient", "ver") is None
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.resources.current_version("Patient", "ver") is None


async def test_search_versions_are_what_search_returns(storage: Storage) -> None:
    token = identifier_token("TEST-0008")
    async with storage.unit_of_work() as uow:
        for i in range(4):
            await uow.resources.create(patient("TEST-0008", id=f"sv{i}"), tokens=[token])
        await uow.resources.update(patient("TEST-0008", id="sv1", active=True), tokens=[token])
        await uow.resources.delete("Patient", "sv2")
        await uow.resources.create(patient("TEST-0009", id="other"), tokens=[identifier_token("TEST-0009")])
    async with storage.unit_of_work(read_only=True) as uow:
        found = await uow.resources.search("Patient", [token])
        versions = await uow.resources.search_versions("Patient", [token])
        assert versions == [(r.id, r.version_id) for r in found] == [("sv1", 2), ("sv3", 1), ("sv0", 1)]
        assert await uow.resources.search_versions("Patient", [token], limit=1) == [("sv1", 2)]
        assert await uow.resources.search_versions("Patient", [identifier_token("TEST-9999")]) == []
