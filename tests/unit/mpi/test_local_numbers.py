"""Each hospital's own patient number: created on first visit, unique, stable."""

from __future__ import annotations

import pytest

from adapter.errors import DuplicateKey
from adapter.mpi import IDENTIFIER_LINKED, PatientIndex
from adapter.mpi.local_numbers import candidate_number, luhn_digit
from adapter.storage import MemoryStorage
from tests.unit.mpi.people import SYSTEMS, person

H1_SYSTEM = SYSTEMS.hospital_patient_number("H001")


async def test_first_visit_creates_a_number_that_stays(storage: MemoryStorage, index: PatientIndex) -> None:
    async with storage.unit_of_work() as uow:
        found = await index.resolve(uow, person(1), actor="a")
        number = await index.assign_local_number(uow, found.patient_id, "H001", actor="kiosk")
        assert len(number) == 12 and number.isdigit() and luhn_digit(number[:-1]) == number[-1]
        assert await index.assign_local_number(uow, found.patient_id, "H001") == number
        other_hospital = await index.assign_local_number(uow, found.patient_id, "H002")
        assert other_hospital != number
        patient = (await uow.resources.read("Patient", found.patient_id)).body
        local = [i for i in patient["identifier"] if i["system"] == H1_SYSTEM]
        assert [i["value"] for i in local] == [number]
        link = await uow.identities.find(H1_SYSTEM, number)
        assert link is not None and link.patient_id == found.patient_id
        topics = [e.topic for e in await uow.outbox.list()]
        assert topics.count(IDENTIFIER_LINKED) == 2
        audits = await uow.audit.search(agent="kiosk")
        assert [a.operation for a in audits] == ["assign hospital patient number"]
    async with storage.unit_of_work() as uow:  # the number now resolves the patient
        again = await index.resolve(uow, person(1), actor="a")
        assert again.patient_id == found.patient_id


async def test_numbers_differ_between_patients(storage: MemoryStorage, index: PatientIndex) -> None:
    async with storage.unit_of_work() as uow:
        numbers = set()
        for serial in range(1, 30):
            found = await index.resolve(uow, person(serial), actor="a")
            numbers.add(await index.assign_local_number(uow, found.patient_id, "H001"))
    assert len(numbers) == 29


async def test_a_taken_candidate_moves_on_to_the_next(storage: MemoryStorage, index: PatientIndex) -> None:
    async with storage.unit_of_work() as uow:
        one = await index.resolve(uow, person(1), actor="a")
        two = await index.resolve(uow, person(2), actor="a")
        squatted = candidate_number("H001", two.patient_id, 0)
        assert await index.link_local_number(uow, one.patient_id, "H001", squatted)
        number = await index.assign_local_number(uow, two.patient_id, "H001")
        assert number == candidate_number("H001", two.patient_id, 1)


async def test_his_assigned_numbers_link_once_and_never_to_two_patients(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    async with storage.unit_of_work() as uow:
        one = await index.resolve(uow, person(1), actor="a")
        two = await index.resolve(uow, person(2), actor="a")
        assert await index.link_local_number(uow, one.patient_id, "H001", "MZ0001") is True
        assert await index.link_local_number(uow, one.patient_id, "H001", "MZ0001") is False
        assert await index.assign_local_number(uow, one.patient_id, "H001") == "MZ0001"
        with pytest.raises(DuplicateKey):
            await index.link_local_number(uow, two.patient_id, "H001", "MZ0001")
        with pytest.raises(ValueError):
            await index.assign_local_number(uow, one.patient_id, "bad code!")
