"""MPI resolve of an already-known person, in-process, on memory and SQLite, at growing populations.

Each measured call is what a repeat card scan costs the index: one unit of work, identity-link
lookups of every identifier on the card, reading the Patient, folding the facts in (nothing new, so
no write) and the audit record. People are loaded without resolve: through the ports in big
units of work on memory, in bulk statements on SQLite (``bulk_load_sql``), so a run stays short.

Run: ``.venv/bin/python -m bench.mpi_lookup`` (or ``--sizes 1000,10000``). Prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from adapter.json_codec import dump_json
from adapter.mpi import PatientIndex, patient_index_tokens
from adapter.storage import MemoryStorage, SqlStorage, Storage, Vault, migrate
from adapter.storage.shared import identity_key, stamp, token_keys
from adapter.storage.sql.engine import READ_ONLY
from adapter.storage.sql.schema import identity_links, resource_versions, resources, search_tokens
from bench.stats import latency_line
from mappings.codes import IdentifierKey, identifier_systems
from mappings.identity_documents import mod11_2_check_char
from mappings.person import PersonFacts, identifier_of, patient_from_facts

SYSTEMS = identifier_systems()
LOOKUPS = 1_000
BATCH = 2_000
BINZHOU = ("371602", "371603", "371621", "371622", "371623", "371625", "371681")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬建国文辉力宁"


def facts(n: int) -> PersonFacts:
    """Synthetic person n: a valid Binzhou ID number, a made-up name, an EHC ID."""
    rng = random.Random(n)
    # (county, sequence, birth date) differ for every n < 105,000: county n % 7, sequence n // 7 mod
    # 1000, and the birth date's day count is n // 7000 modulo 15.
    born = date(1940, 1, 1) + timedelta(days=n // 7000 % 15 + 15 * rng.randrange(1900))
    body = f"{BINZHOU[n % 7]}{born:%Y%m%d}{n // 7 % 1000:03d}"
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return PersonFacts(
        source="ehc",
        id_number=body + mod11_2_check_char(body),
        name=name,
        sex="1" if n % 2 else "2",
        birth_date=born,
        identifiers=(identifier_of(SYSTEMS, IdentifierKey.EHC_ID, f"{n:064X}"),),
    )


def person_rows(n: int) -> tuple[PersonFacts, str, dict[str, Any]]:
    person = facts(n)
    patient_id = str(uuid.uuid4())
    return person, patient_id, patient_from_facts(person, SYSTEMS, patient_id=patient_id)


async def load(storage: Storage, start: int, stop: int, vault: Vault | None = None) -> None:
    """Through the ports for memory; SQL in bulk (see ``bulk_load_sql``)."""
    if isinstance(storage, SqlStorage) and vault is not None:
        await bulk_load_sql(storage, vault, start, stop)
        return
    for batch in range(start, stop, BATCH):
        async with storage.unit_of_work() as uow:
            for n in range(batch, min(batch + BATCH, stop)):
                person, patient_id, body = person_rows(n)
                await uow.resources.create(body, tokens=patient_index_tokens(body))
                for identifier in person.all_identifiers(SYSTEMS):
                    await uow.identities.link(identifier.system, identifier.value, patient_id)


async def bulk_load_sql(storage: SqlStorage, vault: Vault, start: int, stop: int) -> None:
    """The rows SqlFhirRepository.create and SqlIdentityStore.link would write (same encryption,
    AAD and blind-index keys), inserted many per statement: the port's one-by-one path costs about
    4 ms per person on SQLite, which would make 100,000 people take minutes. The measured resolves
    read these rows through the ports, so a drift in the row format fails the bench loudly."""
    now = datetime.now(UTC)
    for batch in range(start, stop, BATCH * 5):
        current, versions, tokens, links = [], [], [], []
        for n in range(batch, min(batch + BATCH * 5, stop)):
            person, patient_id, body = person_rows(n)
            raw = dump_json(stamp(body, resource_id=patient_id, version_id=1, last_updated=now))
            current.append(
                {
                    "resource_type": "Patient",
                    "resource_id": patient_id,
                    "version_id": 1,
                    "last_updated": now,
                    "deleted": False,
                }
            )
            versions.append(
                {
                    "resource_type": "Patient",
                    "resource_id": patient_id,
                    "version_id": 1,
                    "last_updated": now,
                    "deleted": False,
                    "body": vault.encrypt(raw, aad=f"Patient/{patient_id}/1".encode()),
                }
            )
            tokens.extend(
                {
                    "resource_type": "Patient",
                    "param": param,
                    "hash": vault.blind_index(key),
                    "resource_id": patient_id,
                }
                for param, key in token_keys(patient_index_tokens(body))
            )
            for identifier in person.all_identifiers(SYSTEMS):
                value_hash = vault.blind_index(identity_key(identifier.system, identifier.value))
                links.append(
                    {
                        "value_hash": value_hash,
                        "system": identifier.system,
                        "value": vault.encrypt(
                            identifier.value.encode(), aad=f"identity/{value_hash}".encode()
                        ),
                        "patient_id": patient_id,
                        "created_at": now,
                        "flagged": False,
                        "note": None,
                    }
                )
        async with storage.engine.begin() as conn:
            for table, rows in (
                (resources, current),
                (resource_versions, versions),
                (search_tokens, tokens),
                (identity_links, links),
            ):
                await conn.execute(insert(table), rows)
    # Fold the bulk load's write-ahead log into the database now, so no lookup pays for it later.
    async with storage.engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await conn.rollback()


async def measure(storage: Storage, index: PatientIndex, population: int) -> list[float]:
    rng = random.Random(11)
    samples = []
    for _ in range(LOOKUPS):
        person = facts(rng.randrange(population))
        started = time.perf_counter()
        async with storage.unit_of_work() as uow:
            found = await index.resolve(uow, person, actor="bench")
        samples.append(time.perf_counter() - started)
        if found.created or found.flags:
            raise RuntimeError("a known person must resolve to the loaded Patient, unflagged")
    return samples


async def run(sizes: tuple[int, ...]) -> None:
    index = PatientIndex(systems=SYSTEMS)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite'}"
        await migrate(url)
        vault = Vault.generate()
        backends: list[tuple[str, Storage]] = [
            ("memory", MemoryStorage()),
            ("sqlite", SqlStorage(url, vault)),
        ]
        for name, storage in backends:
            loaded = 0
            try:
                for size in sizes:
                    started = time.perf_counter()
                    await load(storage, loaded, size, vault)
                    rate = (size - loaded) / (time.perf_counter() - started)
                    loaded = size
                    samples = await measure(storage, index, size)
                    label = f"mpi resolve known person {name} @ {size:,} people"
                    print(f"{latency_line(label, samples)}  (load {rate:,.0f}/s)", flush=True)
            finally:
                await storage.close()


def main(sizes: tuple[int, ...] = (1_000, 10_000, 100_000)) -> None:
    print("== mpi: resolve an already-known person (one unit of work per call, audited) ==")
    asyncio.run(run(sizes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated populations")
    arguments = parser.parse_args()
    main(tuple(int(s) for s in arguments.sizes.split(",")))
