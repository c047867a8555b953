"""The pipeline of ``dualcode mpi import`` on a SQL database (docs/mpi.md, "How it is made fast"):
chunks of lines go to ``workers`` processes (``import_prepare``) in file order and come back
prepared in file order; this process writes each batch in one unit of work
(``BulkImporter.import_sealed``). ``workers=0`` prepares the same rows in this process. The search
tokens of new people are merged into the index before the first batch (what an interrupted import
left) and after the last one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import Final

from adapter.mpi.bulk_import import BulkImporter, ImportSummary
from adapter.mpi.import_prepare import PreparedChunk, Preparer, init_worker, prepare_lines
from adapter.mpi.import_records import ImportRecord, parse_line
from adapter.settings import Settings
from adapter.storage.ports import Storage
from adapter.storage.sql.bulk import sealed_writer
from adapter.storage.vault import Vault
from mappings.codes import IdentifierSystems, default_identifier_systems

CHUNK_LINES: Final = 500  # lines per task sent to a worker
MAX_REPORTED_ERRORS: Final = 20

Progress = Callable[[int, ImportSummary], None]


def read_chunks(path: Path, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """(line number, line) of the non-blank lines, ``size`` at a time."""
    chunk: list[tuple[int, bytes]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                chunk.append((number, line))
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
    if chunk:
        yield chunk


async def writes_sealed(storage: Storage) -> bool:
    async with storage.unit_of_work(read_only=True) as uow:
        return sealed_writer(uow) is not None


async def import_sealed_file(
    storage: Storage,
    path: Path,
    *,
    importer: BulkImporter,
    systems: IdentifierSystems,
    batch: int,
    source: str,
    today: date,
    progress: Progress | None,
    errors: list[str],
    workers: int,
    vault_factory: Callable[[], Vault],
) -> ImportSummary:
    started = time.perf_counter()
    total = ImportSummary()
    loop = asyncio.get_running_loop()
    parse = partial(parse_line, systems=systems, source=source, today=today)
    chunks = read_chunks(path, CHUNK_LINES)
    # With workers, the next batch is prepared while one writes; without, one batch at a time.
    in_flight = 2 * workers + max(1, batch // CHUNK_LINES) if workers else 1
    # spawn: this process has an event loop and a commit thread; forking it would copy their state.
    context = multiprocessing.get_context("spawn")
    pool = (
        ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(vault_factory, default_identifier_systems, source, today),
        )
        if workers > 0
        else None
    )
    here = (
        None if pool is not None else Preparer(vault_factory(), systems=systems, source=source, today=today)
    )
    pending: deque[asyncio.Future[PreparedChunk]] = deque()

    def fill() -> None:
        while len(pending) < in_flight:
            lines = next(chunks, None)
            if lines is None:
                return
            if pool is not None:
                pending.append(loop.run_in_executor(pool, prepare_lines, lines))
            elif here is not None:  # --workers 0: the same rows, prepared in this process
                done: asyncio.Future[PreparedChunk] = loop.create_future()
                done.set_result(here.prepare(lines))
                pending.append(done)

    try:
        fill()
        await merge_pending_tokens(storage)  # left by an interrupted import: searchable before we start
        try:
            await _write_batches(
                storage,
                importer,
                pending,
                fill,
                batch=batch,
                parse=parse,
                errors=errors,
                total=total,
                started=started,
                progress=progress,
            )
        finally:
            await merge_pending_tokens(storage)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # an error or ^C: prepare nothing more
    total.seconds = time.perf_counter() - started
    return total


async def _write_batches(
    storage: Storage,
    importer: BulkImporter,
    pending: deque[asyncio.Future[PreparedChunk]],
    fill: Callable[[], None],
    *,
    batch: int,
    parse: Callable[[bytes], ImportRecord],
    errors: list[str],
    total: ImportSummary,
    started: float,
    progress: Progress | None,
) -> None:
    while pending:
        prepared: list[PreparedChunk] = []
        while pending and sum(c.lines for c in prepared) < batch:
            prepared.append(await pending.popleft())
            fill()
        for chunk in prepared:
            for number, message in chunk.rejected:
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(f"line {number}: {message}")
        async with storage.unit_of_work() as uow:
            writer = sealed_writer(uow)
            if writer is None:  # checked before starting; the storage cannot change kind
                raise RuntimeError("the storage does not take sealed rows")
            done = await importer.import_sealed(uow, writer, prepared, parse=parse)
        total.add(done)
        total.seconds = time.perf_counter() - started
        if progress is not None:
            progress(total.people, total)


async def merge_pending_tokens(storage: Storage) -> bool:
    """Make the people of an interrupted import searchable (an import killed before its end left
    their search tokens pending); run where migrations run: `dualcode migrate` and service start.
    True when there was anything to merge."""
    async with storage.unit_of_work() as uow:
        writer = sealed_writer(uow)
        if writer is None or not await writer.has_pending_tokens():
            return False
        await writer.merge_tokens()
    return True


async def merge_pending_tokens_of(settings: Settings) -> bool:
    """``merge_pending_tokens`` on the configured database (for `migrate` and the workers' start)."""
    from adapter.storage import open_storage
    from adapter.storage.keys import load_vault

    storage = open_storage(settings, load_vault(settings))
    try:
        return await merge_pending_tokens(storage)
    finally:
        await storage.close()
