"""The card-scan path on the in-memory store, with an offline card (a reader line): a known person
is a read-only scan; anything new goes down the writer path."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from dataclasses import fields, replace
from datetime import date

import pytest

from adapter.cache.in_process import InProcessCache
from adapter.cards.config import CardPlatformConfig
from adapter.cards.platforms import CardPlatforms
from adapter.errors import InvalidIdentityDocument, InvalidRequest
from adapter.mpi import PatientIndex
from adapter.scan import CardScanService, ScanRequest, ScanResult
from adapter.scan.coverage import CoverageKeeper
from adapter.scan.known import KnownScan, KnownScans, scan_key
from adapter.security.audit_writer import AuditWriter
from adapter.storage import SearchToken
from adapter.storage.memory import MemoryStorage
from mappings.codes import default_identifier_systems
from mappings.person import PersonFacts
from tests.unit.mpi.people import id_number

ID_NUMBER = "11010519491231002X"  # a public example number
READER_LINE = (
    f"371600|{ID_NUMBER}|X00000019|371600D156000005A1B2C3D4E5F60718|测试甲|3B6D00|3.00|"
    "20200101|20300101|T1|D1|"
)


@pytest.fixture
async def service() -> AsyncIterator[CardScanService]:
    storage = MemoryStorage()
    systems = default_identifier_systems()
    # Nothing answers on this port: NHSA refreshes fail fast and the scan goes on (as in an outage).
    platforms = CardPlatforms.from_config(CardPlatformConfig.for_sandbox("http://127.0.0.1:9", retries=0))
    coverage = CoverageKeeper(platforms.nhsa, InProcessCache(), systems, refresh_s=3600)
    yield CardScanService(
        storage=storage,
        platforms=platforms,
        index=PatientIndex(systems=systems),
        coverage=coverage,
        systems=systems,
        audit_writer=AuditWriter(storage),
        today=lambda: date(2026, 11, 29),
    )
    await platforms.aclose()


async def test_a_known_person_is_scanned_without_writing(service: CardScanService) -> None:
    first = await service.scan(ScanRequest(READER_LINE, organization="H1"), actor="c1")
    assert first.created and first.local_identifier is not None
    assert any("NHSA did not answer" in note for note in first.notes)
    storage: MemoryStorage = service._storage  # type: ignore[assignment]
    async with storage.unit_of_work(read_only=True) as uow:
        versions = len(await uow.resources.history("Patient", first.patient_id))
    again = await service.scan(ScanRequest(READER_LINE, organization="H1"), actor="c1")
    assert again.patient_id == first.patient_id and not again.created
    assert again.local_identifier == first.local_identifier
    async with storage.unit_of_work(read_only=True) as uow:
        assert len(await uow.resources.history("Patient", first.patient_id)) == versions  # nothing written
    writer: AuditWriter = service._audit_writer
    assert writer.pending == 1  # the read is still audited, in the next batch


async def test_a_new_hospital_goes_down_the_writer_path(service: CardScanService) -> None:
    first = await service.scan(ScanRequest(READER_LINE, organization="H1"), actor="c1")
    second = await service.scan(ScanRequest(READER_LINE, organization="H2"), actor="c1")
    assert second.patient_id == first.patient_id
    assert second.local_identifier is not None and first.local_identifier is not None
    assert second.local_identifier["system"] != first.local_identifier["system"]
    systems = {i["system"] for i in second.patient["identifier"]}
    assert {first.local_identifier["system"], second.local_identifier["system"]} <= systems


async def test_typed_id_numbers_need_a_name_and_a_valid_number(service: CardScanService) -> None:
    with pytest.raises(InvalidRequest):
        await service.scan(ScanRequest(ID_NUMBER, kind="idcard", organization="H1"), actor="c1")
    with pytest.raises(InvalidIdentityDocument):
        await service.scan(ScanRequest("110105194912310021", kind="idcard", name="测试"), actor="c1")
    scanned = await service.scan(
        ScanRequest(ID_NUMBER, kind="idcard", name="测试甲", organization="H1"), actor="c1"
    )
    assert scanned.patient["birthDate"] == "1949-12-31"


async def test_a_sampling_scan_only_identifies(service: CardScanService) -> None:
    scanned = await service.scan(ScanRequest(READER_LINE, organization="P1", step="sampling"), actor="c1")
    assert scanned.created and scanned.local_identifier is None
    assert scanned.notes == ()  # no insurance lookup was attempted (NHSA is unreachable in this test)
    systems = {i["system"] for i in scanned.patient["identifier"]}
    assert not any("P1" in system for system in systems)


OTHER_ID = id_number(2)
OTHER_LINE = (
    f"371600|{OTHER_ID}|X00000020|371600D156000005A1B2C3D4E5F60719|测试乙|3B6D00|3.00|"
    "20200101|20300101|T1|D1|"
)


async def _remembered(service: CardScanService, request: ScanRequest) -> ScanResult:
    await service.scan(request, actor="c1")  # first sight: created (the writer path)
    return await service.scan(request, actor="c1")  # known, nothing new: settled and remembered


async def test_a_settled_scan_is_answered_again_without_resolving(
    service: CardScanService, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = ScanRequest(READER_LINE, organization="H1")
    settled = await _remembered(service, request)

    async def no_resolve(*args: object, **kwargs: object) -> None:
        raise AssertionError("resolved again")

    monkeypatch.setattr(service._index, "resolve", no_resolve)
    writer: AuditWriter = service._audit_writer
    before = writer.pending
    again = await service.scan(request, actor="c2")
    assert (again.patient, again.patient_id, again.local_identifier, again.coverages) == (
        settled.patient,
        settled.patient_id,
        settled.local_identifier,
        settled.coverages,
    )
    assert not again.created and again.patient is not settled.patient  # a dict of its own
    assert writer.pending == before + 1  # still audited, as the resolve it stands for
    record = writer._pending[-1]
    version = settled.patient["meta"]["versionId"]
    assert (record.agent, record.action, record.operation) == ("c2", "R", "resolve Patient")
    assert record.resource == f"Patient/{settled.patient_id}/_history/{version}"
    monkeypatch.undo()
    other_hospital = await service.scan(ScanRequest(READER_LINE, organization="H2"), actor="c1")
    assert other_hospital.local_identifier != settled.local_identifier  # not the remembered one


async def test_a_changed_patient_is_never_answered_from_memory(service: CardScanService) -> None:
    request = ScanRequest(READER_LINE, organization="H1")
    settled = await _remembered(service, request)
    storage: MemoryStorage = service._storage  # type: ignore[assignment]
    async with storage.unit_of_work() as uow:
        stored = await uow.resources.read("Patient", settled.patient_id)
        phone = [{"system": "phone", "value": "13800000000"}]
        await uow.resources.update({**stored.body, "telecom": phone})
    again = await service.scan(request, actor="c1")
    assert again.patient["meta"]["versionId"] == str(stored.version_id + 1)
    assert again.patient["telecom"] == phone


async def test_a_merged_patient_is_answered_by_the_survivor(service: CardScanService) -> None:
    request = ScanRequest(READER_LINE, organization="H1")
    merged = await _remembered(service, request)
    survivor = await service.scan(ScanRequest(OTHER_LINE, organization="H1"), actor="c1")
    storage: MemoryStorage = service._storage  # type: ignore[assignment]
    async with storage.unit_of_work() as uow:
        await service._index.merge(uow, merged.patient_id, survivor.patient_id, actor="admin", reason="test")
    again = await service.scan(request, actor="c1")
    assert again.patient_id == survivor.patient_id


async def test_a_new_coverage_is_in_the_next_answer(service: CardScanService) -> None:
    request = ScanRequest(READER_LINE, organization="H1")
    settled = await _remembered(service, request)
    assert settled.coverages == ()
    storage: MemoryStorage = service._storage  # type: ignore[assignment]
    reference = f"Patient/{settled.patient_id}"
    coverage = {
        "resourceType": "Coverage",
        "status": "active",
        "beneficiary": {"reference": reference},
        "payor": [{"display": "test payor"}],
    }
    async with storage.unit_of_work() as uow:
        await uow.resources.create(coverage, tokens=[SearchToken("patient", None, reference)])
    again = await service.scan(request, actor="c1")
    assert [c["status"] for c in again.coverages] == ["active"]
    assert not any("no active medical insurance" in note for note in again.notes)


def test_known_scans_keep_the_most_recent_few() -> None:
    known = KnownScans(2)
    entry = KnownScan("p", 1, b"{}", None, b"[]", None)
    for key in (b"a", b"b"):
        known.put(key, entry)
    assert known.get(b"a") == entry  # now the most recent
    known.put(b"c", entry)
    assert (known.get(b"a"), known.get(b"b"), known.get(b"c")) == (entry, None, entry)
    known.forget(b"a")
    assert known.get(b"a") is None and len(known) == 1
    KnownScans(0).put(b"a", entry)  # size 0: nothing is remembered


def test_known_scans_give_the_garbage_collector_nothing_to_walk() -> None:
    known = KnownScans(4)
    known.put(b"k", KnownScan("p", 1, b"{}", ("urn:h", "42"), b"[]", (("c1", 2), ("c2", 1))))
    for _ in range(3):  # nested tuples are untracked one level per collection
        gc.collect()
    assert not any(gc.is_tracked(entry) for entry in known._entries.values())
    assert known.get(b"k") == KnownScan("p", 1, b"{}", ("urn:h", "42"), b"[]", (("c1", 2), ("c2", 1)))
    assert len(KnownScan("p", 1, b"{}", None, b"[]", None).as_tuple()) == len(fields(KnownScan))


def test_a_scan_key_tells_apart_facts_that_differ_only_where_the_repr_is_silent() -> None:
    base = PersonFacts(source="ehc", id_number=id_number(1), name="张三")
    assert repr(base) == repr(replace(base, name="李四"))  # the repr hides personal values
    keys = {
        scan_key(base, "H001", True),
        scan_key(replace(base, name="李四"), "H001", True),
        scan_key(replace(base, phone="13800000000"), "H001", True),
        scan_key(base, "H002", True),
        scan_key(base, None, False),
    }
    assert len(keys) == 5
    assert scan_key(base, "H001", True) == scan_key(
        PersonFacts(source="ehc", id_number=id_number(1), name="张三"), "H001", True
    )
