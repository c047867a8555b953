"""Bulk import into the patient index (`dualcode mpi import`'s code path) on SQLite and on a fresh
PostgreSQL database, with the sandbox's synthetic population (`dualcode sandbox export`).

Each backend runs ``import_file`` (what the command runs: batches of one unit of work, the CPU work
in ``--workers`` processes) until the count is reached or ``--max-seconds`` pass (then the rate so
far and the projected time for the whole count are printed). ``--workers 0,2`` runs each backend
once per worker count (an A/B in one run). Besides the wall time it prints the CPU seconds of this
process (the writer) and of the workers, per 1,000 people, which the machine's load disturbs less,
and the database size. Afterwards a sample of the imported people is resolved through
``PatientIndex`` to show they are found, and ``--reimport`` times a second import of the same
people (all existing: nothing may be created).

Run: ``.venv/bin/python -m bench.mpi_import [--count 1000000] [--backends sqlite,postgres]
[--file people.ndjson] [--max-seconds 900] [--workers 2] [--batch 10000] [--keep DIR]``.
Prints, asserts nothing. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import subprocess
import tempfile
import time
from datetime import date
from functools import partial
from itertools import islice
from pathlib import Path

from adapter.mpi import PatientIndex
from adapter.mpi.bulk_import import BulkImporter, ImportSummary
from adapter.mpi.import_file import DEFAULT_BATCH, DEFAULT_SOURCE, DEFAULT_WORKERS, import_file
from adapter.mpi.import_pipeline import Progress
from adapter.mpi.import_records import parse_line
from adapter.storage import SqlStorage, Vault, migrate
from mappings.codes import default_identifier_systems
from sandbox.export import ExportSpec, export_file

SYSTEMS = default_identifier_systems()
TODAY = date(2026, 11, 29)  # fixed, so a saved export matches the run
VERIFY = 200


class _Stop(Exception):
    """The time bound passed."""


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


def postgres_size(name: str = "dualcode_bench_mpi") -> int:
    try:
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atc",
             f"SELECT pg_database_size('{name}')"],
            check=True, capture_output=True, timeout=60, text=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return 0
    return int(out.stdout.strip() or 0)


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def run_import(
    url: str, path: Path, *, count: int, batch: int, max_seconds: float, workers: int, reimport: bool
) -> tuple[ImportSummary, ImportSummary | None]:
    await migrate(url)
    # Fresh keys, passed by value: the worker processes rebuild the same vault from them.
    vault_factory = partial(Vault, {"k1": os.urandom(32)}, active="k1", blind_index_key=os.urandom(32))
    storage = SqlStorage(url, vault_factory())
    last = ImportSummary()

    def progress(done: int, summary: ImportSummary) -> None:
        last.__dict__.update(summary.__dict__)
        if summary.seconds > max_seconds:
            raise _Stop()

    async def once(progress: Progress | None = None) -> ImportSummary:
        return await import_file(
            storage,
            path,
            importer=BulkImporter(PatientIndex(systems=SYSTEMS)),
            systems=SYSTEMS,
            batch=batch,
            source=DEFAULT_SOURCE,
            today=TODAY,
            progress=progress,
            workers=workers,
            vault_factory=vault_factory,
        )

    again = None
    try:
        try:
            total = await once(progress)
        except _Stop:
            total = last
        await verify(storage, path, min(total.people, VERIFY))
        if reimport and total.people >= count:
            again = await once()
    finally:
        await storage.close()
    return total, again


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


def report(label: str, count: int, summary: ImportSummary, *, cpu: tuple[float, float], size: int) -> None:
    per_k = 1000 / max(summary.people, 1)
    line = (
        f"mpi import {label:<20} {summary.people:>9,} people in {summary.seconds:8.1f} s  "
        f"{summary.people_per_s:8,.0f} people/s  created={summary.created:,} existing={summary.existing:,} "
        f"conflicts={summary.conflicts:,} rejected={summary.rejected:,} coverages={summary.coverages:,}  "
        f"cpu/1k people: writer {cpu[0] * per_k:.2f} s, workers {cpu[1] * per_k:.2f} s  "
        f"database {size / 1e9:.2f} GB"
    )
    if summary.people < count:
        projected = count / summary.people_per_s if summary.people_per_s else float("inf")
        line += f"  (stopped at the time bound; {count:,} would take about {projected / 60:.1f} min)"
    print(line, flush=True)


def sqlite_size(database: Path) -> int:
    return sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))


def main(
    count: int = 1_000_000,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
    file: Path | None = None,
    batch: int = DEFAULT_BATCH,
    max_seconds: float = 300.0,
    workers: tuple[int, ...] = (DEFAULT_WORKERS,),
    reimport: bool = False,
    keep: Path | None = None,
) -> None:
    print(
        f"== mpi bulk import: {count:,} synthetic people, batches of {batch:,}, "
        f"load avg {os.getloadavg()[0]:.1f} =="
    )
    gc.freeze()
    gc.set_threshold(200_000, 100, 1000)  # as `dualcode mpi import` does
    with tempfile.TemporaryDirectory(dir=keep) as tmp:
        path = Path(tmp) / "people.ndjson"
        if file is None:
            started = time.perf_counter()
            export_file(ExportSpec(count=count, seed=2026, today=TODAY), path)
            print(f"  sandbox export of {count:,} people: {time.perf_counter() - started:.1f} s", flush=True)
        else:
            with file.open("rb") as source, path.open("wb") as head:
                head.writelines(islice(source, count))
        for backend in backends:
            for n in workers:
                database = Path(tmp) / f"mpi-{n}.sqlite"
                url = f"sqlite+aiosqlite:///{database}"
                if backend == "postgres":
                    url = fresh_postgres_database() or ""
                    if not url:
                        print("(PostgreSQL on 127.0.0.1:5432 does not answer: skipped)")
                        continue
                writer_cpu, workers_cpu = (
                    cpu_seconds(resource.RUSAGE_SELF),
                    cpu_seconds(resource.RUSAGE_CHILDREN),
                )
                started = time.perf_counter()
                summary, again = asyncio.run(
                    run_import(
                        url,
                        path,
                        count=count,
                        batch=batch,
                        max_seconds=max_seconds,
                        workers=n,
                        reimport=reimport,
                    )
                )
                cpu = (
                    cpu_seconds(resource.RUSAGE_SELF) - writer_cpu,
                    cpu_seconds(resource.RUSAGE_CHILDREN) - workers_cpu,
                )
                size = postgres_size() if backend == "postgres" else sqlite_size(database)
                report(f"{backend} workers={n}", count, summary, cpu=cpu, size=size)
                if again is not None:
                    print(
                        f"  re-import of the same {again.people:,} people: {again.seconds:.1f} s, "
                        f"{again.people_per_s:,.0f} people/s, created={again.created:,} "
                        f"existing={again.existing:,} conflicts={again.conflicts:,}",
                        flush=True,
                    )
                print(f"  (whole run including verification: {time.perf_counter() - started:.1f} s)")
                if backend == "sqlite":
                    for leftover in database.parent.glob(database.name + "*"):
                        leftover.unlink()


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
    parser.add_argument(
        "--workers",
        default=str(DEFAULT_WORKERS),
        help="worker counts to compare, e.g. 0,2 (default: the command's)",
    )
    parser.add_argument("--reimport", action="store_true", help="import the same people again, timed")
    parser.add_argument("--keep", type=Path, help="directory for the working files (default: system temp)")
    arguments = parser.parse_args()
    main(
        arguments.count,
        tuple(b.strip() for b in arguments.backends.split(",") if b.strip()),
        arguments.file,
        arguments.batch,
        arguments.max_seconds,
        tuple(int(w) for w in arguments.workers.split(",")),
        arguments.reimport,
        arguments.keep,
    )
