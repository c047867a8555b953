"""Resolution on the memory store: deterministic on identifiers, one unit of work, events, audit."""

from __future__ import annotations

from datetime import date

import pytest
from fhir.resources.R4B.task import Task

from adapter.errors import InvalidRequest
from adapter.mpi import (
    DEMOGRAPHIC_CONFLICT,
    IDENTIFIER_CONFLICT,
    IDENTIFIER_LINKED,
    PATIENT_CREATED,
    PATIENT_UPDATED,
    PatientIndex,
)
from adapter.storage import MemoryStorage, SearchToken
from mappings.codes import IdentifierKey
from mappings.person import PersonFacts, identifier_of
from tests.r4 import assert_valid_r4
from tests.unit.mpi.people import EHC_SYSTEM, ID_SYSTEM, SYSTEMS, ehc_id, id_number, person


async def test_first_scan_creates_one_patient_with_every_identifier(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        found = await index.resolve(uow, person(1), actor="client-a")
    assert found.created and found.flags == ()
    assert found.linked == (IdentifierKey.ID_NUMBER, IdentifierKey.EHC_ID)
    assert [i["system"] for i in found.patient["identifier"]] == [ID_SYSTEM, EHC_SYSTEM]
    assert_valid_r4(found.patient)
    async with storage.unit_of_work() as uow:
        links = await uow.identities.links_for(found.patient_id)
        assert {(link.system, link.value) for link in links} == {
            (ID_SYSTEM, id_number(1)),
            (EHC_SYSTEM, ehc_id(1)),
        }
        events = await uow.outbox.list()
        assert [(e.topic, e.destination, e.ordering_key) for e in events] == [
            (PATIENT_CREATED, "*", f"Patient/{found.patient_id}")
        ]
        (audit,) = await uow.audit.search(patient_id=found.patient_id)
        assert (audit.agent, audit.action, audit.operation) == ("client-a", "C", "resolve Patient")
        assert id_number(1) not in str(audit.detail)
        hits = await uow.resources.search("Patient", [SearchToken("identifier", ID_SYSTEM, id_number(1))])
        assert [h.id for h in hits] == [found.patient_id]


async def test_a_second_scan_finds_the_same_patient_and_writes_nothing_new(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        first = await index.resolve(uow, person(1), actor="a")
    async with storage.unit_of_work() as uow:
        again = await index.resolve(uow, person(1, source="essc"), actor="b")
        assert again.patient_id == first.patient_id
        assert not again.created and again.linked == () and again.version_id == 1
        assert len(await uow.outbox.list()) == 1
        audits = await uow.audit.search(agent="b")
        assert [a.action for a in audits] == ["R"]


async def test_only_a_resolve_that_decided_nothing_anew_is_settled(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        first = await index.resolve(uow, person(1), actor="a")
    assert not first.settled  # created
    async with storage.unit_of_work() as uow:
        assert (await index.resolve(uow, person(1), actor="a")).settled
    psn = identifier_of(SYSTEMS, IdentifierKey.NHSA_PSN_NO, "PSN-TEST-9")
    with_psn = person(1, identifiers=(*person(1).identifiers, psn))
    async with storage.unit_of_work() as uow:
        linked = await index.resolve(uow, with_psn, actor="a")
    assert linked.linked and not linked.settled  # a new identifier was linked
    async with storage.unit_of_work() as uow:
        assert (await index.resolve(uow, with_psn, actor="a")).settled
    async with storage.unit_of_work() as uow:
        conflicting = await index.resolve(uow, person(1, name="李四"), actor="a")
    assert conflicting.flags and not conflicting.settled  # sent to review


async def test_any_linked_identifier_resolves_and_new_ones_are_linked(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        first = await index.resolve(uow, person(1), actor="a")
    psn = identifier_of(SYSTEMS, IdentifierKey.NHSA_PSN_NO, "PSN-TEST-1")
    ehc_only = PersonFacts(
        source="ehc", identifiers=(identifier_of(SYSTEMS, IdentifierKey.EHC_ID, ehc_id(1)), psn)
    )
    async with storage.unit_of_work() as uow:
        found = await index.resolve(uow, ehc_only, actor="a")
        assert found.patient_id == first.patient_id
        assert found.linked == (IdentifierKey.NHSA_PSN_NO,) and found.version_id == 2
        topics = [e.topic for e in await uow.outbox.list()]
        assert topics == [PATIENT_CREATED, PATIENT_UPDATED, IDENTIFIER_LINKED]
        linked_event = (await uow.outbox.list())[-1]
        assert linked_event.payload["identifiers"] == [
            {"system": psn.system, "value": "PSN-TEST-1", "flagged": False}
        ]
        assert (await uow.identities.find(psn.system, psn.value)) is not None
    assert any(i["value"] == "PSN-TEST-1" for i in found.patient["identifier"])


async def test_the_national_id_decides_over_other_identifiers(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        one = await index.resolve(uow, person(1), actor="a")
        two = await index.resolve(uow, person(2, name="李娜"), actor="a")
    # Person 1's ID number with person 2's EHC ID: stays person 1, EHC ID flagged for review.
    mixed = person(1, identifiers=(identifier_of(SYSTEMS, IdentifierKey.EHC_ID, ehc_id(2)),))
    async with storage.unit_of_work() as uow:
        found = await index.resolve(uow, mixed, actor="a")
        assert found.patient_id == one.patient_id
        (flag,) = found.flags
        assert flag.kind == IDENTIFIER_CONFLICT and flag.fields == (f"identifier:{EHC_SYSTEM}",)
        task = await uow.resources.read("Task", flag.review.removeprefix("Task/"))
        assert task.body["for"] == {"reference": f"Patient/{one.patient_id}"}
        assert_valid_r4(task.body)
        link = await uow.identities.find(EHC_SYSTEM, ehc_id(2))
        assert link is not None and link.patient_id == two.patient_id  # never moved silently


async def test_conflicting_demographics_are_flagged_never_merged(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        first = await index.resolve(uow, person(1), actor="a")
    psn = identifier_of(SYSTEMS, IdentifierKey.NHSA_PSN_NO, "PSN-TEST-9")
    other = person(1, source="nhsa", name="张卫", birth_date=date(1990, 1, 2), identifiers=(psn,))
    async with storage.unit_of_work() as uow:
        found = await index.resolve(uow, other, actor="a")
        assert found.patient_id == first.patient_id
        (flag,) = found.flags
        assert flag.kind == DEMOGRAPHIC_CONFLICT and flag.fields == ("name", "birthDate")
        assert flag.source == "nhsa"
        assert found.patient == first.patient  # the existing facts stay, nothing from this source
        link = await uow.identities.find(psn.system, psn.value)
        assert link is not None and link.flagged and link.patient_id == first.patient_id
        assert link.note is not None and flag.review in link.note and "张" not in link.note
        task = (await uow.resources.read("Task", flag.review.removeprefix("Task/"))).body
        values = [i["valueString"] for i in task["input"]]
        assert values == ["张伟", "张卫", "1990-01-01", "1990-01-02"]  # both facts kept
        Task.model_validate(task)
        assert_valid_r4(task)
        assert "张卫" not in repr(found)
    async with storage.unit_of_work() as uow:  # the same disagreement again: the same open Task
        again = await index.resolve(uow, other, actor="a")
        assert again.flags[0].review == flag.review
        assert len(await uow.resources.search("Task", [])) == 1


async def test_traditional_spelling_of_the_same_name_is_no_conflict(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        await index.resolve(uow, person(1, name="陈大文"), actor="a")
        found = await index.resolve(uow, person(1, name="陳大文", source="essc"), actor="a")
    assert found.flags == ()


async def test_other_certificates_resolve_on_type_and_number(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    passport = PersonFacts(
        source="idcard", certificate_type="03", id_number="E99000001", name="王芳", sex="2"
    )
    async with storage.unit_of_work() as uow:
        first = await index.resolve(uow, passport, actor="a")
        again = await index.resolve(uow, passport, actor="a")
        other_type = await index.resolve(
            uow, PersonFacts(source="idcard", certificate_type="06", id_number="E99000001"), actor="a"
        )
    assert first.patient_id == again.patient_id != other_type.patient_id
    assert first.linked == (None,)


async def test_facts_without_any_identifier_are_refused(storage: MemoryStorage, index: PatientIndex) -> None:
    with pytest.raises(InvalidRequest):
        async with storage.unit_of_work() as uow:
            await index.resolve(uow, PersonFacts(source="his:H1", name="张伟"), actor="a")


async def test_a_failed_unit_of_work_leaves_nothing(storage: MemoryStorage, index: PatientIndex) -> None:
    with pytest.raises(RuntimeError):
        async with storage.unit_of_work() as uow:
            await index.resolve(uow, person(1), actor="a")
            raise RuntimeError("the caller failed after resolving")
    async with storage.unit_of_work() as uow:
        assert await uow.identities.find(ID_SYSTEM, id_number(1)) is None
        assert await uow.outbox.list() == [] and await uow.audit.search() == []
