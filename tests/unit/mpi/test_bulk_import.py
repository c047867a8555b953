"""Bulk import: the people it creates resolve as PatientIndex would have made them; re-imports create
nothing; conflicts are reported, never merged; bad lines are rejected without leaking values."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapter.mpi import PatientIndex
from adapter.mpi.bulk_import import BulkImporter, ImportSummary
from adapter.mpi.coverages import coverage_id
from adapter.mpi.import_file import ProgressBar, import_file
from adapter.mpi.import_records import ImportRecord, parse_line, parse_record
from adapter.storage import MemoryStorage, SearchToken, Storage
from mappings.codes import IdentifierKey
from sandbox.export import ExportSpec, export_file, import_line, people
from tests.unit.mpi.people import SYSTEMS, ehc_id, id_number

TODAY = date(2026, 11, 29)
CARD_SYSTEM = SYSTEMS.system(IdentifierKey.SSC_CARD_NUMBER)


def row(serial: int, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id_number": id_number(serial),
        "name": "张伟",
        "sex": "1",
        "birth_date": "1990-01-01",
        "phone": "19900000000",
        "ehc_id": ehc_id(serial),
        "ssc_card_number": f"B{serial:08d}",
        "nhsa_psn_no": f"3716{serial:016d}",
        "insurance": [{"insutype": "390", "insuplc_admdvs": "371602", "psn_insu_stas": "1"}],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def record(serial: int, **changes: Any) -> ImportRecord:
    return parse_record(row(serial, **changes), systems=SYSTEMS, source="his:import", today=TODAY)


async def bulk(storage: Storage, index: PatientIndex, records: list[ImportRecord]) -> ImportSummary:
    async with storage.unit_of_work() as uow:
        return await BulkImporter(index).import_batch(uow, records)


async def test_imported_people_resolve_to_their_patient_with_every_identifier(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    summary = await bulk(storage, index, [record(n) for n in range(1, 6)])
    assert (summary.created, summary.existing, summary.conflicts, summary.coverages) == (5, 0, 0, 5)
    async with storage.unit_of_work() as uow:
        by_card = await index.resolve(uow, record(3, id_number=None).facts, actor="test")
        resolution = await index.resolve(uow, record(3).facts, actor="test")
        coverages = await uow.resources.search(
            "Coverage", [SearchToken("patient", None, resolution.reference)]
        )
        payor = await uow.resources.read("Organization", "nhsa-371602")
        by_name = await uow.resources.search("Patient", [SearchToken("name", None, "张伟")])
    assert not resolution.created and not resolution.flags and not resolution.linked
    assert by_card.patient_id == resolution.patient_id
    systems = {i["system"] for i in resolution.patient["identifier"]}
    assert systems == {
        SYSTEMS.system(k)
        for k in (
            IdentifierKey.ID_NUMBER,
            IdentifierKey.EHC_ID,
            IdentifierKey.SSC_CARD_NUMBER,
            IdentifierKey.NHSA_PSN_NO,
        )
    }
    assert [c.id for c in coverages] == [coverage_id(resolution.patient_id, "390", "371602")]
    assert coverages[0].body["payor"][0]["reference"] == f"Organization/{payor.id}"
    assert len(by_name) == 5  # name tokens written as the one-by-one path writes them


async def test_a_reimport_creates_nothing(storage: MemoryStorage, index: PatientIndex) -> None:
    await bulk(storage, index, [record(n) for n in range(1, 4)])
    again = await bulk(storage, index, [record(n) for n in range(1, 4)])
    assert (again.created, again.existing, again.conflicts, again.coverages) == (0, 3, 0, 0)
    async with storage.unit_of_work() as uow:
        assert len(await uow.resources.search("Patient", [])) == 3
        assert len(await uow.resources.search("Coverage", [])) == 3
        assert len(await uow.outbox.list()) == 0  # nothing changed, nothing announced


async def test_the_same_person_twice_in_a_batch_is_one_patient(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    summary = await bulk(storage, index, [record(1), record(2), record(1)])
    assert (summary.created, summary.existing) == (2, 1)
    async with storage.unit_of_work() as uow:
        assert len(await uow.resources.search("Patient", [])) == 2


async def test_conflicting_demographics_go_to_review_not_into_the_patient(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    await bulk(storage, index, [record(1)])
    summary = await bulk(storage, index, [record(1, name="李娜", phone="19911111111")])
    assert (summary.created, summary.existing, summary.conflicts) == (0, 1, 1)
    async with storage.unit_of_work() as uow:
        resolution = await index.resolve(uow, record(1).facts, actor="test")
        tasks = await uow.resources.search("Task", [])
    assert resolution.patient["name"][0]["text"] == "张伟"
    assert len(tasks) == 1


async def test_new_facts_for_a_known_person_are_folded_in_by_resolve(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    await bulk(storage, index, [record(1, ssc_card_number=None)])
    summary = await bulk(storage, index, [record(1)])  # now with a card number
    assert (summary.created, summary.existing, summary.conflicts) == (0, 1, 0)
    async with storage.unit_of_work() as uow:
        link = await uow.identities.find(CARD_SYSTEM, "B00000001")
        patient = await index.resolve(uow, record(1).facts, actor="test")
    assert link is not None and link.patient_id == patient.patient_id


async def test_the_outcome_equals_resolving_one_by_one(index: PatientIndex) -> None:
    """A card number already held by one Patient, offered with another person's ID number."""
    first, second = MemoryStorage(), MemoryStorage()
    try:
        records = [record(1), record(2, ssc_card_number="B00000001"), record(3)]
        await bulk(first, index, records[:1])
        summary = await bulk(first, index, records[1:])
        for each in records:
            async with second.unit_of_work() as uow:
                await index.resolve(uow, each.facts, actor="test")
        shapes = []
        for store in (first, second):
            async with store.unit_of_work() as uow:
                patients = await uow.resources.search("Patient", [])
                tasks = await uow.resources.search("Task", [])
            shapes.append(
                (
                    sorted(sorted(i["value"] for i in p.body["identifier"]) for p in patients),
                    sorted(t.body["code"]["coding"][0]["code"] for t in tasks),
                )
            )
        assert shapes[0] == shapes[1]
        assert summary.conflicts == 1
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_number": "371602199001010010"}, "check character"),
        ({"id_number": None, "ehc_id": None, "ssc_card_number": None, "nhsa_psn_no": None}, "no identifier"),
        ({"nhsa_psn_no": None}, "insurance needs nhsa_psn_no"),
        ({"birth_date": "01/01/1990"}, "ISO date"),
        ({"sex": "7"}, "GB/T 2261.1"),
    ],
)
def test_bad_lines_are_refused_without_their_values(changes: dict[str, Any], message: str) -> None:
    line = json.dumps(row(1, **changes))
    with pytest.raises(ValueError, match=message) as caught:
        parse_line(line, systems=SYSTEMS, source="his:import", today=TODAY)
    assert "371602199001010010" not in str(caught.value) and "张伟" not in str(caught.value)


async def test_import_file_counts_rejected_lines_and_reports_progress(
    storage: MemoryStorage, index: PatientIndex, tmp_path: Path
) -> None:
    path = tmp_path / "people.ndjson"
    lines = [json.dumps(row(n), ensure_ascii=False) for n in range(1, 8)]
    lines[3] = "{not json"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    shown = io.StringIO()
    bar = ProgressBar(7, stream=shown, every_s=0)
    errors: list[str] = []
    summary = await import_file(
        storage,
        path,
        importer=BulkImporter(index),
        systems=SYSTEMS,
        batch=3,
        today=TODAY,
        progress=bar,
        errors=errors,
    )
    assert (summary.created, summary.rejected, summary.people) == (6, 1, 7)
    assert errors == ["line 4: not a JSON object"]
    assert "100%" in shown.getvalue() and "7/7" in shown.getvalue()
    assert summary.as_dict()["people_per_s"] > 0


async def test_the_sandbox_population_imports_and_resolves(
    storage: MemoryStorage, index: PatientIndex, tmp_path: Path
) -> None:
    spec = ExportSpec(count=40, seed=7, today=TODAY)
    path = tmp_path / "sandbox.ndjson"
    assert export_file(spec, path) == 40
    summary = await import_file(storage, path, importer=BulkImporter(index), systems=SYSTEMS, today=TODAY)
    assert (summary.created, summary.rejected, summary.coverages) == (40, 0, 40)
    for person in list(people(spec))[::9]:
        facts = parse_record(import_line(person), systems=SYSTEMS, source="ehc", today=TODAY).facts
        async with storage.unit_of_work() as uow:
            resolution = await index.resolve(uow, facts, actor="test")
        assert not resolution.created and not resolution.flags


class _Blind:
    """An IdentityStore whose first bulk look (the importer's) finds nothing: the importer then takes
    everyone for new, as when another unit of work links their identifiers between its look and its
    links. Later looks (the one-by-one resolution that follows) see the truth."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._looked = False

    async def find_many(self, keys: Any, *, read_ahead: bool = False) -> dict[Any, Any]:
        if not self._looked:
            self._looked = True
            return {}
        return await self._inner.find_many(keys, read_ahead=read_ahead)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RacedUnitOfWork:
    def __init__(self, uow: Any) -> None:
        self._uow = uow
        self.identities = _Blind(uow.identities)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)


async def test_identifiers_linked_meanwhile_are_reported_not_taken(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    await bulk(storage, index, [record(1)])
    same_person = record(1)  # its anchor is taken: resolved one by one, to the existing Patient
    other_person = record(2, ehc_id=ehc_id(1))  # person 1's EHC ID: left off, sent to review
    importer = BulkImporter(index)
    summary = ImportSummary()
    for batch in ([same_person], [other_person]):  # one batch each: they share an identifier
        async with storage.unit_of_work() as uow:
            summary.add(await importer.import_batch(_RacedUnitOfWork(uow), batch))
    assert (summary.created, summary.existing, summary.conflicts) == (1, 1, 1)
    async with storage.unit_of_work() as uow:
        first = await index.resolve(uow, record(1).facts, actor="test")
        second = await index.resolve(uow, record(2, ehc_id=None).facts, actor="test")
        tasks = await uow.resources.search("Task", [])
    assert first.patient_id != second.patient_id
    assert ehc_id(1) not in {i["value"] for i in second.patient["identifier"]}
    assert [t.body["for"]["reference"] for t in tasks] == [second.reference]
