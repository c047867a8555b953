"""The intermediate-table connector on SQLite, the real PostgreSQL, and MariaDB when reachable."""

from __future__ import annotations

import importlib.util
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from his_connectors.sql_table import SqlTableConnector
from tests.e2e.harness import free_port
from tests.unit.his_connectors.samples import envelope

MARIADB_URL = os.environ.get("DUALCODE_TEST_MARIADB_URL", "mysql+aiomysql://root@127.0.0.1:3306/mysql")


def _mariadb() -> str:
    if importlib.util.find_spec("aiomysql") is None:
        pytest.skip("MariaDB test needs the aiomysql driver (pip install aiomysql)")
    try:
        with socket.create_connection(("127.0.0.1", 3306), 1.0):
            return MARIADB_URL
    except OSError:
        pytest.skip("MariaDB is not reachable at 127.0.0.1:3306 (root, no password)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mariadb"])
async def his_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/his.sqlite"
        return
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else _mariadb()
    yield url


async def test_rows_are_written_once_and_inbound_rows_are_read(his_database: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    out_table, in_table = f"dc_out_{suffix}", f"dc_in_{suffix}"
    connector = SqlTableConnector(his_database, table=out_table, inbound=in_table, create_tables=True)
    try:
        assert (await connector.health()).ok
        first = await connector.deliver(envelope(event_id="e" * 32))
        again = await connector.deliver(envelope(event_id="e" * 32))
        other = await connector.deliver(envelope("patient.updated", 2, event_id="f" * 32))
        assert first.delivered and again.delivered and again.detail == "row was there already"
        assert other.delivered
        engine = create_async_engine(his_database)
        try:
            async with engine.begin() as connection:
                rows = (
                    await connection.execute(
                        text(f"SELECT idempotency_key, topic, patient_id FROM {out_table}")
                    )
                ).all()
                assert sorted(tuple(r) for r in rows) == [
                    ("e" * 32, "patient.created", "p1"),
                    ("f" * 32, "patient.updated", "p2"),
                ]
                assert connector.inbound is not None
                for kind in ("patient.updated", "patient.number-assigned", "patient.updated"):
                    await connection.execute(
                        insert(connector.inbound).values(
                            kind=kind, document='{"mr": "MR00001"}', written_at=datetime.now(UTC)
                        )
                    )
        finally:
            await engine.dispose()
        page = await connector.read_inbound(after=0, limit=2)
        assert [r.kind for r in page] == ["patient.updated", "patient.number-assigned"]
        assert page[0].document == {"mr": "MR00001"}
        rest = await connector.read_inbound(after=page[-1].id)
        assert [r.kind for r in rest] == ["patient.updated"]
    finally:
        engine = create_async_engine(his_database)
        try:
            async with engine.begin() as connection:
                for table in (out_table, in_table):
                    await connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        finally:
            await engine.dispose()
        await connector.close()


async def test_an_unreachable_database_is_a_retryable_failure() -> None:
    # A PostgreSQL port nothing listens on. (Not a SQLite file in a missing folder: aiosqlite's worker
    # thread then finishes a failed connect after the test's event loop may have closed, and pytest
    # reports that thread's error at some later test.)
    connector = SqlTableConnector(
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/his", create_tables=True
    )
    try:
        receipt = await connector.deliver(envelope())
        health = await connector.health()
    finally:
        await connector.close()
    assert not receipt.delivered and receipt.retryable and receipt.detail.startswith("HIS database")
    assert not health.ok
