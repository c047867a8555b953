"""`dualcode mpi import` with worker processes on SQLite and PostgreSQL: the outcome is the one the
in-process import gives (compared with it on the memory store), people are found by identifier and
by search afterwards, a re-import creates nothing, and deferred search tokens never go stale."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.pool import NullPool

from adapter.mpi import PatientIndex, import_pipeline
from adapter.mpi.bulk_import import BulkImporter, ImportSummary
from adapter.mpi.import_file import import_file
from adapter.mpi.import_records import parse_record
from adapter.mpi.tokens import name_search_value
from adapter.storage import MemoryStorage, SearchToken, SqlStorage, Storage, Vault, migrate
from adapter.storage.sql import bulk, make_engine, metadata
from adapter.storage.sql.bulk import SealedWriter, seal_resource, sealed_writer
from mappings.codes import IdentifierKey
from tests.unit.mpi.people import SYSTEMS, ehc_id, id_number

TODAY = date(2026, 11, 29)
CARD_SYSTEM = SYSTEMS.system(IdentifierKey.SSC_CARD_NUMBER)
NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静")


def _row(serial: int, **changes: Any) -> dict[str, Any]:
    born = date(1950 + serial % 50, 1 + serial % 12, 1 + serial % 28)
    base: dict[str, Any] = {
        "id_number": id_number(serial, born=born),
        "name": NAMES[serial % len(NAMES)],
        "sex": "1",
        "birth_date": born.isoformat(),
        "phone": f"199{serial:08d}",
        "ehc_id": ehc_id(serial),
        "ssc_card_number": f"B{serial:08d}",
        "nhsa_psn_no": f"3716{serial:016d}",
        "insurance": [{"insutype": "390", "insuplc_admdvs": "371602", "psn_insu_stas": "1"}],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _write(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _file(tmp_path: Path) -> Path:
    rows: list[dict[str, Any] | str] = [_row(n) for n in range(1, 41)]
    rows.insert(5, "{not json")  # rejected, by line number
    rows.insert(9, "")  # blank: skipped
    rows.insert(12, _row(3, name="赵敏"))  # person 3 again, another name: a conflict for review
    rows.insert(30, _row(17))  # person 17 again, unchanged: in another chunk, existing
    rows.append(_row(41, id_number=None, ssc_card_number=None))  # no certificate: anchored on the EHC id
    return _write(tmp_path / "people.ndjson", rows)


async def _import(
    storage: Storage, path: Path, vault: partial[Vault] | None, errors: list[str], *, workers: int = 2
) -> ImportSummary:
    return await import_file(
        storage,
        path,
        importer=BulkImporter(PatientIndex(systems=SYSTEMS)),
        systems=SYSTEMS,
        batch=10,
        today=TODAY,
        errors=errors,
        workers=workers,
        vault_factory=vault,
    )


def _counts(summary: ImportSummary) -> tuple[int, ...]:
    return summary.created, summary.existing, summary.conflicts, summary.rejected, summary.coverages


@pytest.fixture
def vault_factory() -> partial[Vault]:
    return partial(Vault, {"k1": os.urandom(32)}, active="k1", blind_index_key=os.urandom(32))


@pytest.mark.parametrize("workers", [2, 0])
async def test_sealed_import_gives_the_in_process_outcome_and_is_searchable(
    sql_url: str, tmp_path: Path, vault_factory: partial[Vault], monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(import_pipeline, "CHUNK_LINES", 7)  # several chunks per batch, several batches
    path = _file(tmp_path)
    memory = MemoryStorage()
    expected_errors: list[str] = []
    expected = await _import(memory, path, None, expected_errors)
    expected_again = await _import(memory, path, None, [])
    await memory.close()

    storage = SqlStorage(sql_url, vault_factory())
    try:
        errors: list[str] = []
        summary = await _import(storage, path, vault_factory, errors, workers=workers)
        assert _counts(summary) == _counts(expected)
        assert (summary.created, summary.conflicts, summary.rejected) == (41, 1, 1)
        assert errors == expected_errors == ["line 6: not a JSON object"]

        index = PatientIndex(systems=SYSTEMS)
        async with storage.unit_of_work() as uow:
            writer = sealed_writer(uow)
            assert writer is not None and not await writer.has_pending_tokens()
            for serial in (1, 17, 40):
                row = _row(serial)
                by_card = await uow.identities.find(CARD_SYSTEM, row["ssc_card_number"])
                assert by_card is not None
                patient = await uow.resources.read("Patient", by_card.patient_id)
                for criteria in (
                    [SearchToken("identifier", None, row["id_number"])],
                    [SearchToken("identifier", CARD_SYSTEM, row["ssc_card_number"])],
                    [
                        SearchToken("name", None, name_search_value(row["name"])),
                        SearchToken("birthdate", None, row["birth_date"]),
                    ],
                ):
                    found = await uow.resources.search("Patient", criteria)
                    assert [r.id for r in found] == [patient.id]
                coverages = await uow.resources.search(
                    "Coverage", [SearchToken("patient", None, f"Patient/{patient.id}")]
                )
                assert len(coverages) == 1
            resolution = await index.resolve(uow, _row_facts(17), actor="test")
            assert not resolution.created and not resolution.flags

        again = await _import(storage, path, vault_factory, [], workers=workers)
        assert _counts(again) == _counts(expected_again)
        assert again.created == 0
    finally:
        await storage.close()


def _row_facts(serial: int) -> Any:
    return parse_record(_row(serial), systems=SYSTEMS, source="ehc", today=TODAY).facts


async def test_deferred_tokens_of_a_changed_resource_are_dropped_and_the_next_import_merges(
    sql_url: str, tmp_path: Path, vault_factory: partial[Vault]
) -> None:
    vault = vault_factory()
    now = datetime.now(UTC)
    bodies = [{"resourceType": "Patient", "id": f"p-{n}"} for n in range(3)]
    sealed = [
        seal_resource(vault, b, [SearchToken("name", None, f"old{n}")], last_updated=now)
        for n, b in enumerate(bodies)
    ]
    storage = SqlStorage(sql_url, vault)
    try:
        async with storage.unit_of_work() as uow:
            writer = sealed_writer(uow)
            assert isinstance(writer, SealedWriter)
            await writer.create(sealed, last_updated=now, defer_tokens=True)
        async with storage.unit_of_work() as uow:
            assert (await uow.resources.read("Patient", "p-0")).version_id == 1  # readable at once
            assert await uow.resources.search("Patient", [SearchToken("name", None, "old0")]) == []
            await uow.resources.update(bodies[1], tokens=[SearchToken("name", None, "new1")])
            await uow.resources.delete("Patient", "p-2")
        # An import (here of an empty file) merges what an interrupted one left pending, first.
        await _import(storage, _write(tmp_path / "empty.ndjson", []), vault_factory, [])
        async with storage.unit_of_work() as uow:
            writer = sealed_writer(uow)
            assert writer is not None and not await writer.has_pending_tokens()

            async def ids(name: str) -> list[str]:
                return [
                    r.id for r in await uow.resources.search("Patient", [SearchToken("name", None, name)])
                ]

            assert await ids("old0") == ["p-0"]
            assert await ids("old1") == []  # updated since: its own tokens replaced the pending ones
            assert await ids("new1") == ["p-1"]
            assert await ids("old2") == []  # deleted since
    finally:
        await storage.close()


def test_the_command_imports_with_workers_and_a_rerun_creates_nothing(sql_url: str, tmp_path: Path) -> None:
    """`dualcode mpi import` as a process: workers load the key files the command created."""
    path = _write(tmp_path / "cli.ndjson", [_row(n) for n in range(1, 13)] + ["[1]"])
    env = {
        **os.environ,
        "DUALCODE_DATABASE_URL": sql_url,
        "DUALCODE_DATA_KEYS_FILE": str(tmp_path / "keys" / "data.json"),
        "DUALCODE_BLIND_INDEX_KEY_FILE": str(tmp_path / "keys" / "index.key"),
        "DUALCODE_TOKEN_SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing.key"),
    }
    command = [sys.executable, "-m", "adapter.cli", "mpi", "import", str(path), "--quiet", "--batch", "5"]
    command += ["--workers", "2"]
    outcomes = []
    for _ in range(2):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        outcomes.append(json.loads(done.stdout.strip().splitlines()[-1]))
        assert "line 13: not a JSON object" in done.stderr
    assert [(o["created"], o["existing"], o["rejected"], o["coverages"]) for o in outcomes] == [
        (12, 0, 1, 12),
        (0, 12, 1, 0),
    ]


async def test_a_large_merge_rebuilds_the_resource_index_and_everything_is_found(
    sql_url: str, vault_factory: partial[Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "REBUILD_MIN_ROWS", 1)  # SQLite rebuilds the index for any merge
    vault = vault_factory()
    now = datetime.now(UTC)
    storage = SqlStorage(sql_url, vault)
    try:
        async with storage.unit_of_work() as uow:
            await uow.resources.create(
                {"resourceType": "Patient", "id": "before"}, tokens=[SearchToken("name", None, "b")]
            )
        async with storage.unit_of_work() as uow:
            writer = sealed_writer(uow)
            assert writer is not None
            bodies = [{"resourceType": "Patient", "id": f"q-{n}"} for n in range(20)]
            await writer.create(
                [
                    seal_resource(vault, b, [SearchToken("name", None, f"q{n}")], last_updated=now)
                    for n, b in enumerate(bodies)
                ],
                last_updated=now,
                defer_tokens=True,
            )
            assert await writer.merge_tokens() == 20
        async with storage.unit_of_work() as uow:
            for name, expected in (("q7", ["q-7"]), ("b", ["before"])):
                found = await uow.resources.search("Patient", [SearchToken("name", None, name)])
                assert [r.id for r in found] == expected
            # The resource index is back: an update replaces the tokens of exactly its resource.
            await uow.resources.update(
                {"resourceType": "Patient", "id": "q-7"}, tokens=[SearchToken("name", None, "z")]
            )
        async with storage.unit_of_work() as uow:
            assert await uow.resources.search("Patient", [SearchToken("name", None, "q7")]) == []
            assert len(await uow.resources.search("Patient", [SearchToken("name", None, "q8")])) == 1
    finally:
        await storage.close()
    await migrate(sql_url)  # the schema is still what the code describes (the index is back)
    engine = make_engine(sql_url, pool_size=None, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            assert (
                await conn.run_sync(lambda c: list(compare_metadata(MigrationContext.configure(c), metadata)))
                == []
            )
    finally:
        await engine.dispose()


async def test_migrate_makes_the_people_of_a_killed_import_searchable(
    sql_url: str, tmp_path: Path, vault_factory: partial[Vault]
) -> None:
    """An import killed before its end leaves tokens pending: `dualcode migrate` (which `make run`
    and service start do) merges them, so search finds those people without another import."""
    vault = vault_factory()
    now = datetime.now(UTC)
    storage = SqlStorage(sql_url, vault)
    try:
        async with storage.unit_of_work() as uow:
            writer = sealed_writer(uow)
            assert writer is not None
            body = {"resourceType": "Patient", "id": "killed-1"}
            token = SearchToken("name", None, "killed")
            await writer.create(
                [seal_resource(vault, body, [token], last_updated=now)], last_updated=now, defer_tokens=True
            )
        env = {
            **os.environ,
            "DUALCODE_DATABASE_URL": sql_url,
            "DUALCODE_DATA_KEYS_FILE": str(tmp_path / "keys" / "data.json"),
            "DUALCODE_BLIND_INDEX_KEY_FILE": str(tmp_path / "keys" / "index.key"),
            "DUALCODE_TOKEN_SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing.key"),
        }
        done = await asyncio.to_thread(_migrate, env)
        assert done.returncode == 0, done.stderr
        assert "interrupted import" in done.stdout
        async with storage.unit_of_work(read_only=True) as uow:
            assert [r.id for r in await uow.resources.search("Patient", [token])] == ["killed-1"]
        again = await asyncio.to_thread(_migrate, env)
        assert again.returncode == 0 and "interrupted import" not in again.stdout  # nothing left
    finally:
        await storage.close()


def _migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "adapter.cli", "migrate"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
