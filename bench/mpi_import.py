"""Bulk import into the patient index (`dualcode mpi import`'s code path) on SQLite and on a fresh
PostgreSQL database, with the sandbox's synthetic population (`dualcode sandbox export`).

Each backend imports in batches of one unit of work until the count is reached or ``--max-seconds``
pass (then the rate so far and the projected time for the whole count are printed). Afterwards a
sample of the imported people is resolved through ``PatientIndex`` to show they are found.

Run: ``.venv/bin/python -m bench.mpi_import [--count 1000000] [--backends sqlite,postgres]
[--file people.ndjson] [--max-seconds 900]``. Prints, asserts nothing. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import tempfile
import time
from datetime import date
from itertools import islice
from pathlib import Path

from adapter.mpi import PatientIndex
from adapter.mpi.bulk_import import BulkImporter, ImportSummary
from adapter.mpi.import_file import DEFAULT_BATCH, DEFAULT_SOURCE, read_batches
from adapter.mpi.import_records import parse_line
from adapter.storage import SqlStorage, Vault, migrate
from mappings.codes import default_identifier_systems
from sandbox.export import ExportSpec, export_file

SYSTEMS = default_identifier_systems()
TODAY = date(2026, 11, 29)  # fixed, so a saved export matches the run
VERIFY = 200


def fresh_postgres_database(name: str = "dualcode_bench_mpi") -> str | None:
    try:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q",
             "-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def run_import(url: str, path: Path, *, count: int, batch: int, max_seconds: float) -> ImportSummary:
    await migrate(url)
    storage = SqlStorage(url, Vault.generate())
    importer = BulkImporter(PatientIndex(systems=SYSTEMS))
    total = ImportSummary()
    started = time.perf_counter()
    try:
        batches = read_batches(path, batch, systems=SYSTEMS, source=DEFAULT_SOURCE, today=TODAY, errors=[])
        for records, rejected in batches:
            async with storage.unit_of_work() as uow:
                done = await importer.import_batch(uow, records)
            done.rejected += rejected
            total.add(done)
            total.seconds = time.perf_counter() - started
            if total.seconds > max_seconds or total.people >= count:
                break
        await verify(storage, path, min(total.people, VERIFY))
    finally:
        await storage.close()
    return total


async def verify(storage: SqlStorage, path: Path, count: int) -> None:
    """Resolve the first imported people again: each must be found, not created."""
    index = PatientIndex(systems=SYSTEMS)
    found = 0
    with path.open("rb") as handle:
        for line in islice(handle, count):
            facts = parse_line(line, systems=SYSTEMS, source="ehc", today=TODAY).facts
            async with storage.unit_of_work() as uow:
                resolution = await index.resolve(uow, facts, actor="bench")
            found += not resolution.created and not resolution.flags
    print(f"  verified: {found}/{count} imported people resolve to their Patient through PatientIndex")


def report(backend: str, count: int, summary: ImportSummary) -> None:
    line = (
        f"mpi import {backend:<8} {summary.people:>9,} people in {summary.seconds:8.1f} s  "
        f"{summary.people_per_s:8,.0f} people/s  created={summary.created:,} existing={summary.existing:,} "
        f"conflicts={summary.conflicts:,} rejected={summary.rejected:,} coverages={summary.coverages:,}"
    )
    if summary.people < count:
        projected = count / summary.people_per_s if summary.people_per_s else float("inf")
        line += f"  (stopped at the time bound; {count:,} would take about {projected / 60:.1f} min)"
    print(line, flush=True)


def main(
    count: int = 1_000_000,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
    file: Path | None = None,
    batch: int = DEFAULT_BATCH,
    max_seconds: float = 300.0,
) -> None:
    print(
        f"== mpi bulk import: {count:,} synthetic people, batches of {batch:,}, "
        f"load avg {os.getloadavg()[0]:.1f} =="
    )
    gc.freeze()
    gc.set_threshold(200_000, 100, 1000)  # as `dualcode mpi import` does
    with tempfile.TemporaryDirectory() as tmp:
        path = file or Path(tmp) / "people.ndjson"
        if file is None:
            started = time.perf_counter()
            export_file(ExportSpec(count=count, seed=2026, today=TODAY), path)
            print(f"  sandbox export of {count:,} people: {time.perf_counter() - started:.1f} s", flush=True)
        for backend in backends:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'mpi.sqlite'}"
            if backend == "postgres":
                url = fresh_postgres_database() or ""
                if not url:
                    print("(PostgreSQL on 127.0.0.1:5432 does not answer: skipped)")
                    continue
            summary = asyncio.run(run_import(url, path, count=count, batch=batch, max_seconds=max_seconds))
            report(backend, count, summary)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--file", type=Path, help="an existing export (dualcode sandbox export --today 2026-11-29)"
    )
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument(
        "--max-seconds", type=float, default=300.0, help="time bound per backend (the target)"
    )
    arguments = parser.parse_args()
    main(
        arguments.count,
        tuple(b.strip() for b in arguments.backends.split(",") if b.strip()),
        arguments.file,
        arguments.batch,
        arguments.max_seconds,
    )
