"""Personal data never reaches the database in clear.

A patient with a known (synthetic) ID number and Chinese name is written through every store that can
carry personal data; then every byte of the SQLite files (database, WAL, shared memory) and every row
of every PostgreSQL table (raw values, and pg_dump's text when pg_dump is installed) is searched for
those strings: as UTF-8, GBK, hex (how bytea is dumped) and JSON \\u escapes. A clear-text control
value proves the scan would have seen them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from adapter.storage import AuditRecord, SearchToken, SqlStorage, Storage, Vault
from adapter.storage.sql import metadata
from tests.contract.storage.databases import create_postgres_database, drop_postgres_database, sqlite_database

ID_NUMBER = "11010519491231002X"  # synthetic: the checksum example, not a person
NAME = "测试甲"
ID_SYSTEM = "urn:oid:2.999.1"
CONTROL = "CLEAR-SENDER-7"  # stored in clear on purpose (a sender code is not personal data)


def needles() -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for label, text in (("id", ID_NUMBER), ("name", NAME)):
        found[f"{label} utf-8"] = text.encode("utf-8")
        found[f"{label} utf-8 hex"] = text.encode("utf-8").hex().encode("ascii")
    found["name gbk"] = NAME.encode("gbk")
    found["name gbk hex"] = NAME.encode("gbk").hex().encode("ascii")
    found["name json escape"] = NAME.encode("unicode_escape")  # \u6d4b\u8bd5\u7532
    found["id lower"] = ID_NUMBER.lower().encode("ascii")
    return found


def leaks(data: bytes) -> list[str]:
    return [label for label, needle in needles().items() if needle in data]


async def write_personal_data(storage: Storage) -> str:
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": ID_SYSTEM, "value": ID_NUMBER}],
        "name": [{"text": NAME, "family": NAME[0], "given": [NAME[1:]]}],
    }
    tokens = [SearchToken("identifier", ID_SYSTEM, ID_NUMBER), SearchToken("name", None, NAME)]
    hl7 = f"MSH|^~\\&|HIS|H|DC|H|20240501||ADT^A04|C1|P|2.5\rPID|1||{ID_NUMBER}^^^ID||{NAME}\r"
    async with storage.unit_of_work() as uow:
        stored, _ = await uow.resources.create(body, tokens=tokens)
        await uow.resources.update({**stored.body, "active": True}, tokens=tokens)
        await uow.identities.link(ID_SYSTEM, ID_NUMBER, stored.id, flagged=True, note=f"{NAME} {ID_NUMBER}")
        for control_id, encoding in (("C1", "utf-8"), ("C2", "gbk")):
            message, _ = await uow.messages.add(
                sender=CONTROL, control_id=control_id, raw=hl7.encode(encoding), message_type="ADT^A04"
            )
            await uow.messages.set_outcome(
                message.id,
                status="error",
                ack=f"MSA|AE|{control_id}\rERR|{ID_NUMBER}|{NAME}\r".encode(encoding),
                patient_id=stored.id,
                error=f"could not match {NAME}",
            )
        event = await uow.outbox.add(
            topic="patient.created",
            destination="his-a",
            ordering_key=f"Patient/{stored.id}",
            payload={"patient": stored.body, "name": NAME},
        )
        await uow.outbox.mark_failed(event.id, error=f"HIS refused {ID_NUMBER}", retry_at=None)
        await uow.audit.record(
            AuditRecord(
                id="audit-1",
                recorded_at=datetime.now(UTC),
                agent="client-a",
                action="R",
                operation="search Patient",
                outcome="0",
                patient_id=stored.id,
                source_ip="192.0.2.1",
                detail={"query": f"identifier={ID_NUMBER}", "name": NAME},
            )
        )
    async with storage.unit_of_work() as uow:  # and it all reads back
        found = await uow.resources.search("Patient", [SearchToken("identifier", None, ID_NUMBER)])
        assert [r.body["name"][0]["text"] for r in found] == [NAME]
        link = await uow.identities.find(ID_SYSTEM, ID_NUMBER)
        assert link is not None and link.note == f"{NAME} {ID_NUMBER}"
    return stored.id


def sqlite_bytes(database: Path) -> bytes:
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert database in files
    return b"".join(p.read_bytes() for p in sorted(files))


async def test_sqlite_files_hold_no_personal_data(tmp_path: Path) -> None:
    url = await sqlite_database(tmp_path)
    database = Path(make_url(url).database or "")
    storage = SqlStorage(url, Vault.generate())
    try:
        await write_personal_data(storage)
        assert (database.parent / f"{database.name}-wal").exists()
        while_open = sqlite_bytes(database)  # most of it still sits in the WAL
    finally:
        await storage.close()
    after_close = sqlite_bytes(database)  # checkpointed into the main file
    for data in (while_open, after_close):
        assert CONTROL.encode() in data
        assert leaks(data) == []


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_url, "at_rest")
    yield url
    drop_postgres_database(postgres_url, url)


@pytest.fixture
async def postgres_storage(postgres_database: str) -> AsyncIterator[SqlStorage]:
    storage = SqlStorage(postgres_database, Vault.generate())
    try:
        yield storage
    finally:
        await storage.close()


@pytest.mark.postgres
async def test_postgres_tables_hold_no_personal_data(
    postgres_database: str, postgres_storage: SqlStorage
) -> None:
    await write_personal_data(postgres_storage)
    url = make_url(postgres_database)
    conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        rows: list[bytes] = []
        for table in metadata.sorted_tables:
            for record in await conn.fetch(f'SELECT * FROM "{table.name}"'):  # every column, raw
                rows.extend(v if isinstance(v, bytes) else str(v).encode() for v in record.values())
            for record in await conn.fetch(f'SELECT t::text FROM "{table.name}" t'):  # rows as text
                rows.append(record[0].encode())
    finally:
        await conn.close()
    data = b"\n".join(rows)
    assert CONTROL.encode() in data
    assert leaks(data) == []

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return  # the row scan above already covers every table
    dump = await _pg_dump(pg_dump, url)
    if dump is not None:
        assert CONTROL.encode() in dump
        assert leaks(dump) == []


async def _pg_dump(pg_dump: str, url: URL) -> bytes | None:
    """The plain-text dump of the database, or None when this pg_dump cannot dump this server."""
    args = [pg_dump, "--no-owner", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    if url.username:
        args += ["-U", url.username]
    env = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else None
    process = await asyncio.create_subprocess_exec(
        *args, url.database or "", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        message = err.decode(errors="replace")
        if "version mismatch" in message:
            return None  # an older client tool; the row scan above still covers every table
        pytest.fail(f"pg_dump failed: {message[:500]}")
    return out
