"""IdentityStore contract: one person per identifier, enforced."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.errors import DuplicateKey, ResourceNotFound
from adapter.storage import SqlStorage, Storage
from adapter.storage.sql.context import SqlContext
from tests.contract.storage.synthetic import CARD_SYSTEM, ID_SYSTEM


async def test_link_find_and_links_for(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        first = await uow.identities.link(ID_SYSTEM, "TEST-1001", "pat-a")
        await uow.identities.link(CARD_SYSTEM, "CARD-1001", "pat-a", flagged=True, note="name differs")
        await uow.identities.link(ID_SYSTEM, "TEST-1002", "pat-b")
    async with storage.unit_of_work() as uow:
        assert await uow.identities.find(ID_SYSTEM, "TEST-1001") == first
        assert await uow.identities.find(CARD_SYSTEM, "TEST-1001") is None  # other system
        assert await uow.identities.find(ID_SYSTEM, "TEST-9999") is None
        links = await uow.identities.links_for("pat-a")
    assert [(link.system, link.value, link.flagged, link.note) for link in links] == [
        (ID_SYSTEM, "TEST-1001", False, None),
        (CARD_SYSTEM, "CARD-1001", True, "name differs"),
    ]
    assert first.created_at.tzinfo is not None


async def test_linking_again_to_the_same_patient_returns_the_first_link(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        first = await uow.identities.link(ID_SYSTEM, "TEST-1003", "pat-a", note="first")
        again = await uow.identities.link(ID_SYSTEM, "TEST-1003", "pat-a", note="second")
    assert again == first


async def test_an_identifier_of_another_patient_is_a_duplicate(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.identities.link(ID_SYSTEM, "TEST-1004", "pat-a")
        with pytest.raises(DuplicateKey):
            await uow.identities.link(ID_SYSTEM, "TEST-1004", "pat-b")
        # The unit of work stays usable after the clash, on every backend.
        await uow.identities.link(ID_SYSTEM, "TEST-1005", "pat-b")
    async with storage.unit_of_work() as uow:
        assert [link.value for link in await uow.identities.links_for("pat-b")] == ["TEST-1005"]
        assert (await uow.identities.find(ID_SYSTEM, "TEST-1004")) is not None


async def test_relink_moves_every_link(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.identities.link(ID_SYSTEM, "TEST-1006", "pat-old")
        await uow.identities.link(CARD_SYSTEM, "CARD-1006", "pat-old")
        await uow.identities.link(ID_SYSTEM, "TEST-1007", "pat-new")
        assert await uow.identities.relink("pat-old", "pat-new") == 2
        assert await uow.identities.relink("pat-nobody", "pat-new") == 0
    async with storage.unit_of_work() as uow:
        assert await uow.identities.links_for("pat-old") == []
        moved = await uow.identities.links_for("pat-new")
        assert [link.value for link in moved] == ["TEST-1006", "CARD-1006", "TEST-1007"]
        link = await uow.identities.find(ID_SYSTEM, "TEST-1006")
        assert link is not None and link.patient_id == "pat-new"


async def test_move_takes_one_link_to_another_patient(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.identities.link(ID_SYSTEM, "TEST-MOVE-1", "p-a")
        await uow.identities.link(ID_SYSTEM, "TEST-MOVE-2", "p-a")
    async with storage.unit_of_work() as uow:
        moved = await uow.identities.move(ID_SYSTEM, "TEST-MOVE-1", "p-b")
        assert moved is not None and moved.patient_id == "p-b" and moved.value == "TEST-MOVE-1"
        assert await uow.identities.move(ID_SYSTEM, "TEST-NOT-LINKED", "p-b") is None
    async with storage.unit_of_work() as uow:
        assert [link.value for link in await uow.identities.links_for("p-a")] == ["TEST-MOVE-2"]
        assert [link.value for link in await uow.identities.links_for("p-b")] == ["TEST-MOVE-1"]


async def test_a_read_ahead_answers_the_next_read_as_the_store_would(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = {"resourceType": "Patient", "id": "pat-ra", "gender": "female"}
    async with storage.unit_of_work() as uow:
        created, _ = await uow.resources.create(patient)
        await uow.identities.link(ID_SYSTEM, "TEST-2001", "pat-ra")
        await uow.identities.link(CARD_SYSTEM, "CARD-2001", "pat-ra")
        await uow.identities.link(ID_SYSTEM, "TEST-2002", "pat-none")  # a link whose Patient is absent
    reads: list[object] = []
    if isinstance(storage, SqlStorage):  # the read-ahead saves the SQL stores a statement
        fetch = SqlContext.fetch

        async def counted(self: SqlContext, read: Any, params: Any) -> Any:
            reads.append(read)
            return await fetch(self, read, params)

        monkeypatch.setattr(SqlContext, "fetch", counted)
    keys = [(ID_SYSTEM, "TEST-2001"), (CARD_SYSTEM, "CARD-2001"), (ID_SYSTEM, "TEST-2002")]
    async with storage.unit_of_work() as uow:
        found = await uow.identities.find_many(keys, read_ahead=True)
        assert {k: link.patient_id for k, link in found.items()} == {
            (ID_SYSTEM, "TEST-2001"): "pat-ra",
            (CARD_SYSTEM, "CARD-2001"): "pat-ra",
            (ID_SYSTEM, "TEST-2002"): "pat-none",
        }
        read = await uow.resources.read("Patient", "pat-ra")
        assert (read.version_id, read.body) == (created.version_id, created.body)
        if isinstance(storage, SqlStorage):
            assert len(reads) == 1  # the Patient came with the links
        with pytest.raises(ResourceNotFound):
            await uow.resources.read("Patient", "pat-none")
        # A write between the lookup and the read: the read sees the unit's own write.
        await uow.identities.find_many(keys, read_ahead=True)
        updated, _ = await uow.resources.update({**patient, "gender": "male"}, if_match=created.version_id)
        again = await uow.resources.read("Patient", "pat-ra")
        assert (again.version_id, again.body["gender"]) == (updated.version_id, "male")
