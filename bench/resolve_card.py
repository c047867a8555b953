"""Finding an already-known person, at 10,000 and 1,000,000 people (the sandbox's population, loaded
with `dualcode mpi import` into SQLite).

1. In-process MPI lookup by any identifier (ID number, SSC card number or identification code, EHC ID
   or master index, NHSA psn_no, picked at random): a read-only unit of work, ``identities.find`` and
   reading the Patient; and ``PatientIndex.resolve`` with that one identifier (a write unit of work:
   it audits), one after the other; then the finds again with no write between them (a commit
   drops every reader's SQLite page cache). p50/p99 per population size: the cost must not grow
   with the population.
2. ``POST /fhir/Patient/$resolve-card`` over HTTP: `dualcode serve` on the loaded database and
   `dualcode sandbox` (same seed, same people) as separate processes, EHC static codes, 16 concurrent
   clients (the load generator shares the 2 cores): median/p99 and requests/s.

3. With ``--asgi`` instead of 2.: the CPU per scan through the app in this process (raw ASGI calls,
   16 concurrent tasks, the sandbox still a process of its own): the figure to compare two versions
   with on a busy machine (run each with ``PYTHONPATH`` set to its tree, alternating).

Run: ``.venv/bin/python -m bench.resolve_card [--sizes 10000,1000000] [--data-dir DIR --loaded N]``.
``--data-dir`` reuses a directory where `dualcode mpi import` already loaded the first N people of
``dualcode sandbox export --today 2026-11-29`` (keys under DIR/keys, database DIR/dualcode.sqlite);
sizes above what can be imported within ``--max-import-seconds`` are skipped. Prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from adapter.mpi import PatientIndex
from adapter.mpi.import_records import IDENTIFIER_FIELDS
from adapter.settings import Settings
from adapter.storage import SqlStorage
from adapter.storage.keys import load_vault
from adapter.storage.records import IdentityLink
from bench.resolve_card_http import measure_http
from bench.stats import latency_line
from mappings.codes import IdentifierKey, default_identifier_systems
from mappings.person import FactIdentifier, PersonFacts, identifier_of
from sandbox.export import ExportSpec, export_file

SYSTEMS = default_identifier_systems()
TODAY = date(2026, 11, 29)  # as the export the --data-dir was loaded from
LOOKUPS = 2_000
FIELDS = (("id_number", IdentifierKey.ID_NUMBER), *((f, k) for f, k in IDENTIFIER_FIELDS if f != "ssn"))


def key_env(data_dir: Path) -> dict[str, str]:
    keys = data_dir / "keys"
    return {
        "DUALCODE_DATA_DIR": str(data_dir),
        "DUALCODE_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'dualcode.sqlite'}",
        "DUALCODE_DATA_KEYS_FILE": str(keys / "data-keys.json"),
        "DUALCODE_BLIND_INDEX_KEY_FILE": str(keys / "blind-index.key"),
        "DUALCODE_TOKEN_SIGNING_KEY_FILE": str(keys / "token-signing.key"),
    }


def load(data_dir: Path, population: Path, start: int, stop: int, max_seconds: float) -> bool:
    """Import people start..stop-1 with the real command; False when it would not finish in time."""
    part = data_dir / f"part-{start}-{stop}.ndjson"
    with population.open("rb") as source, part.open("wb") as out:
        out.writelines(islice(source, start, stop))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALCODE_")} | key_env(data_dir)
    command = [str(Path(sys.executable).parent / "dualcode"), "mpi", "import", str(part), "--quiet"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, timeout=max_seconds, check=True)
    except subprocess.TimeoutExpired:
        return False
    finally:
        part.unlink()
    print(f"  loaded people {start:,}..{stop - 1:,}: {done.stdout.decode().strip()}", flush=True)
    return True


def sample(population: Path, size: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(size)
    wanted = sorted(rng.sample(range(size), min(count, size)))
    chosen, index = [], 0
    with population.open("rb") as handle:
        for number, line in enumerate(islice(handle, size)):
            if index < len(wanted) and number == wanted[index]:
                chosen.append(json.loads(line))
                index += 1
    rng.shuffle(chosen)
    return chosen


async def _find_and_read(storage: SqlStorage, identifier: FactIdentifier) -> IdentityLink:
    async with storage.unit_of_work(read_only=True) as uow:
        link = await uow.identities.find(identifier.system, identifier.value)
        if link is None:
            raise RuntimeError("an imported person was not found")
        await uow.resources.read("Patient", link.patient_id)
    return link


async def lookups(data_dir: Path, people: Sequence[dict[str, Any]], size: int) -> None:
    settings = Settings(**{k.removeprefix("DUALCODE_").lower(): v for k, v in key_env(data_dir).items()})
    storage = SqlStorage(settings.database_url, load_vault(settings))
    index = PatientIndex(systems=SYSTEMS)
    rng = random.Random(7)
    find_s, resolve_s = [], []
    try:
        for person in people:
            field, key = rng.choice(FIELDS)
            identifier = identifier_of(SYSTEMS, key, person[field])
            started = time.perf_counter()
            link = await _find_and_read(storage, identifier)
            find_s.append(time.perf_counter() - started)
            facts = PersonFacts(source="ehc", identifiers=(identifier,))
            started = time.perf_counter()
            async with storage.unit_of_work() as uow:
                resolution = await index.resolve(uow, facts, actor="bench")
            resolve_s.append(time.perf_counter() - started)
            if resolution.created or resolution.patient_id != link.patient_id:
                raise RuntimeError("resolve did not find the imported person")
        reads_s: list[float] = []  # then the same lookups with no write between them (pages warm from above)
        for person in people:
            field, key = rng.choice(FIELDS)
            identifier = identifier_of(SYSTEMS, key, person[field])
            started = time.perf_counter()
            await _find_and_read(storage, identifier)
            reads_s.append(time.perf_counter() - started)
    finally:
        await storage.close()
    print(latency_line(f"find by any identifier + read @ {size:,}", find_s), flush=True)
    print(latency_line(f"PatientIndex.resolve by one identifier @ {size:,}", resolve_s), flush=True)
    print(latency_line(f"find + read again, no writes between @ {size:,}", reads_s), flush=True)


def main(
    sizes: tuple[int, ...] = (10_000, 1_000_000),
    data_dir: Path | None = None,
    loaded: int = 0,
    max_import_seconds: float = 600.0,
    http: bool = True,
    workers: tuple[int, ...] = (1,),
    asgi: bool = False,
) -> None:
    print(f"== resolve an already-known person (SQLite), load avg {os.getloadavg()[0]:.1f} ==")
    with tempfile.TemporaryDirectory() as tmp:
        directory = data_dir or Path(tmp) / "service"
        directory.mkdir(parents=True, exist_ok=True)
        population = Path(tmp) / "people.ndjson"
        export_file(ExportSpec(count=max(sizes), seed=2026, today=TODAY), population)
        for size in sorted(sizes):
            if loaded < size:
                if not load(directory, population, loaded, size, max_import_seconds):
                    print(
                        f"  {size:,} people could not be imported within {max_import_seconds:.0f} s: skipped"
                    )
                    break
                loaded = size
            if loaded > size:
                print(f"  (the database holds {loaded:,} people; lookups pick among the first {size:,})")
            people = sample(population, size, LOOKUPS)
            asyncio.run(lookups(directory, people, size))
            if http or asgi:
                env = key_env(directory)
                for line in measure_http(directory, env, people, size, workers=workers, asgi=asgi):
                    print(line, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--data-dir", type=Path, help="a data dir `dualcode mpi import` already loaded")
    parser.add_argument("--loaded", type=int, default=0, help="how many people --data-dir holds")
    parser.add_argument("--max-import-seconds", type=float, default=600.0)
    parser.add_argument("--no-http", action="store_true", help="in-process lookups only")
    parser.add_argument("--workers", default="1", help="HTTP worker processes to measure, e.g. 1,2")
    parser.add_argument("--asgi", action="store_true", help="CPU per scan in process instead of HTTP")
    arguments = parser.parse_args()
    main(
        tuple(int(s) for s in arguments.sizes.split(",")),
        arguments.data_dir,
        arguments.loaded,
        arguments.max_import_seconds,
        not arguments.no_http,
        tuple(int(w) for w in arguments.workers.split(",")),
        arguments.asgi,
    )
