"""The card-scan path on the in-memory store, with an offline card (a reader line): a known person
is a read-only scan; anything new goes down the writer path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from adapter.cache.in_process import InProcessCache
from adapter.cards.config import CardPlatformConfig
from adapter.cards.platforms import CardPlatforms
from adapter.errors import InvalidIdentityDocument, InvalidRequest
from adapter.mpi import PatientIndex
from adapter.scan import CardScanService, ScanRequest
from adapter.scan.coverage import CoverageKeeper
from adapter.security.audit_writer import AuditWriter
from adapter.storage.memory import MemoryStorage
from mappings.codes import default_identifier_systems

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
