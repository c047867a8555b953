"""Identifier lookup through the storage port, in-process: memory and SQLite, growing populations.

Shows whether the cost of a lookup grows with the number of patients (it should not: blind-index
equality on an indexed column).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from adapter.fhir.search_params import index_tokens
from adapter.storage import MemoryStorage, SqlStorage, Storage, Vault, migrate
from adapter.storage.records import SearchToken
from bench.stats import latency_line

SYSTEM = "urn:oid:2.16.156.10011.1.3"
LOOKUPS = 2000


def patient(n: int) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SYSTEM, "value": f"B{n:017d}"}],
        "name": [{"text": "测试"}],
    }


async def load(storage: Storage, start: int, stop: int) -> None:
    for batch in range(start, stop, 500):
        async with storage.unit_of_work() as uow:
            for n in range(batch, min(batch + 500, stop)):
                body = patient(n)
                await uow.resources.create(body, tokens=index_tokens(body))


async def measure(storage: Storage, population: int) -> list[float]:
    rng = random.Random(7)
    samples = []
    for _ in range(LOOKUPS):
        wanted = SearchToken("identifier", SYSTEM, f"B{rng.randrange(population):017d}")
        started = time.perf_counter()
        async with storage.unit_of_work() as uow:
            found = await uow.resources.search("Patient", [wanted], limit=2)
        samples.append(time.perf_counter() - started)
        assert len(found) == 1
    return samples


async def run(sizes: tuple[int, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite'}"
        await migrate(url)
        backends: list[tuple[str, Storage]] = [
            ("memory", MemoryStorage()),
            ("sqlite", SqlStorage(url, Vault.generate())),
        ]
        for name, storage in backends:
            loaded = 0
            for size in sizes:
                started = time.perf_counter()
                await load(storage, loaded, size)
                load_s = time.perf_counter() - started
                rate = (size - loaded) / load_s
                loaded = size
                samples = await measure(storage, size)
                print(
                    latency_line(f"lookup by identifier {name} @ {size:,} patients", samples)
                    + f"  (load {rate:,.0f}/s)"
                )
            await storage.close()


def main(sizes: tuple[int, ...] = (1_000, 10_000, 50_000)) -> None:
    print("== storage: search Patient by identifier (one unit of work per lookup) ==")
    asyncio.run(run(sizes))


if __name__ == "__main__":
    main()
