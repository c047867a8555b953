"""`dualcode mpi import FILE.ndjson`: read an NDJSON file of people, import it batch by batch (one
unit of work each), show progress on stderr, print a summary on stdout.

A line that cannot be read (bad JSON, invalid ID number, unknown code) is counted as rejected and
named by its line number; the message never carries a personal value. Importing the same file again
creates nothing twice.

On a SQL database the import runs as a pipeline (``import_pipeline``): the CPU work in ``--workers``
processes, the writes here. On the memory store everything runs through ``import_batch``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Final, TextIO

from adapter.mpi.bulk_import import BulkImporter, ImportSummary
from adapter.mpi.import_pipeline import MAX_REPORTED_ERRORS, Progress, import_sealed_file, writes_sealed
from adapter.mpi.import_prepare import relax_gc
from adapter.mpi.import_records import ImportRecord, parse_line
from adapter.mpi.service import PatientIndex
from adapter.settings import Settings
from adapter.storage.ports import Storage
from adapter.storage.vault import Vault
from mappings.codes import IdentifierSystems, default_identifier_systems

DEFAULT_BATCH: Final = 10_000
# Worker processes pay off only with cores to spare beside the writer and the database: on 2 cores
# (measured under load, docs/mpi.md) preparing in the writing process was faster.
DEFAULT_WORKERS: Final = max(0, min(2, (os.cpu_count() or 1) - 2))
DEFAULT_SOURCE: Final = "his:import"


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def read_batches(
    path: Path, batch: int, *, systems: IdentifierSystems, source: str, today: date, errors: list[str]
) -> Iterator[tuple[list[ImportRecord], int]]:
    """Batches of parsed records and how many lines each batch rejected."""
    records: list[ImportRecord] = []
    rejected = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(parse_line(line, systems=systems, source=source, today=today))
            except ValueError as error:
                rejected += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(f"line {number}: {error}")
            if len(records) + rejected >= batch:
                yield records, rejected
                records, rejected = [], 0
    if records or rejected:
        yield records, rejected


async def import_file(
    storage: Storage,
    path: Path,
    *,
    importer: BulkImporter,
    systems: IdentifierSystems,
    batch: int = DEFAULT_BATCH,
    source: str = DEFAULT_SOURCE,
    today: date | None = None,
    progress: Progress | None = None,
    errors: list[str] | None = None,
    workers: int = 0,
    vault_factory: Callable[[], Vault] | None = None,
) -> ImportSummary:
    """Import the file in batches of ``batch`` people. With ``workers`` and a ``vault_factory``
    (a picklable callable giving the storage's own Vault) and a SQL storage, the CPU work runs in
    that many worker processes."""
    errors = [] if errors is None else errors
    today = today or date.today()
    # The workers use the configured identifier systems (default_identifier_systems).
    sealed = systems == default_identifier_systems()
    if sealed and vault_factory is not None and await writes_sealed(storage):
        return await import_sealed_file(
            storage,
            path,
            importer=importer,
            systems=systems,
            batch=batch,
            source=source,
            today=today,
            progress=progress,
            errors=errors,
            workers=workers,
            vault_factory=vault_factory,
        )
    started = time.perf_counter()
    total = ImportSummary()
    batches = read_batches(path, batch, systems=systems, source=source, today=today, errors=errors)
    for records, rejected in batches:
        async with storage.unit_of_work() as uow:
            done = await importer.import_batch(uow, records)
        done.rejected += rejected
        total.add(done)
        total.seconds = time.perf_counter() - started
        if progress is not None:
            progress(total.people, total)
    total.seconds = time.perf_counter() - started
    return total


class ProgressBar:
    """``[#######.......]  45%  450,000/1,000,000  3,210/s  ETA 2:51`` on one line of ``stream``."""

    def __init__(
        self, total: int, *, stream: TextIO = sys.stderr, width: int = 30, every_s: float = 0.5
    ) -> None:
        self._total = max(total, 1)
        self._stream = stream
        self._width = width
        self._every_s = every_s
        self._shown = 0.0

    def __call__(self, done: int, summary: ImportSummary) -> None:
        now = time.monotonic()
        if done < self._total and now - self._shown < self._every_s:
            return
        self._shown = now
        share = min(done / self._total, 1.0)
        filled = int(share * self._width)
        rate = summary.people_per_s
        eta = (self._total - done) / rate if rate > 0 else 0.0
        bar = "#" * filled + "." * (self._width - filled)
        minutes, seconds = divmod(int(eta), 60)
        self._stream.write(
            f"\r[{bar}] {share:4.0%}  {done:,}/{self._total:,}  {rate:,.0f}/s  ETA {minutes}:{seconds:02d}"
        )
        self._stream.flush()

    def close(self) -> None:
        self._stream.write("\n")
        self._stream.flush()


def run(args: argparse.Namespace, settings: Settings) -> int:
    """The `dualcode mpi import` command."""
    path = Path(args.file)
    if not path.is_file():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    bar = None if args.quiet else ProgressBar(count_lines(path))
    relax_gc()
    return asyncio.run(_run(args, settings, path, bar))


async def _run(args: argparse.Namespace, settings: Settings, path: Path, bar: ProgressBar | None) -> int:
    from adapter.storage import MEMORY_URL, migrate, open_storage
    from adapter.storage.keys import load_vault

    if settings.auto_migrate and settings.database_url != MEMORY_URL:
        await migrate(settings.database_url)
    systems = default_identifier_systems()
    importer = BulkImporter(PatientIndex(systems=systems), actor=args.actor)
    errors: list[str] = []
    storage = open_storage(settings, load_vault(settings))  # creates missing key files first
    try:
        summary = await import_file(
            storage,
            path,
            importer=importer,
            systems=systems,
            batch=args.batch,
            source=args.source,
            progress=bar,
            errors=errors,
            workers=args.workers,
            vault_factory=partial(load_vault, settings),
        )
    finally:
        if bar is not None:
            bar.close()
        await storage.close()
    for line in errors:
        print(line, file=sys.stderr)
    print(json.dumps(summary.as_dict()))
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The `mpi` command group (the caller adds its common options to the returned `import`)."""
    mpi = commands.add_parser("mpi", help="master patient index: bulk import")
    actions = mpi.add_subparsers(dest="mpi_command", required=True)
    load = actions.add_parser("import", help="import people from an NDJSON file (docs/mpi.md)")
    load.add_argument("file", help="NDJSON, one person per line")
    load.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="people per transaction")
    load.add_argument("--source", default=DEFAULT_SOURCE, help="source of the facts (his:<code>, fhir, …)")
    load.add_argument("--actor", default="bulk-import", help="the agent audit records name")
    load.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="processes that parse, encrypt and hash while this one writes (0: all in this one; "
        "default: 2 with 4 cores or more, 1 with 3, else 0)",
    )
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(run=run)
    return load
