"""The outbox claim's query plan on real SQLite and PostgreSQL, behind a large delivered history: it
must walk the partial index of undelivered events (``ix_outbox_active``) and probe older events of a
key through ``ix_outbox_active_key``, never the whole table (a scan that grows with every event ever
delivered). Synthetic rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.pool import NullPool

from adapter.storage.sql import make_engine
from adapter.storage.sql.outbox import SqlOutboxStore
from adapter.storage.sql.schema import outbox
from tests.contract.storage.conftest import POSTGRES, postgres_database, prepare_sql  # noqa: F401 (a fixture)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class _Capture:
    """Stands in for the SQL context: keeps the statement ``claim`` would run."""

    def __init__(self, postgres: bool) -> None:
        self.is_postgres = postgres
        self.statements: list[Any] = []

    async def execute(self, statement: Any) -> list[Any]:
        self.statements.append(statement)
        return []


@pytest.mark.parametrize("backend", ["sqlite", POSTGRES])
async def test_the_claim_walks_the_partial_indexes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = await prepare_sql(backend, tmp_path, request)
    postgres = backend != "sqlite"
    capture = _Capture(postgres)
    store = SqlOutboxStore(capture)  # type: ignore[arg-type]
    await store.claim(limit=500, now=NOW, lease_s=60)
    [statement] = capture.statements
    engine = make_engine(url, pool_size=None, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            rows = [
                {
                    "id": uuid.uuid4().hex,
                    "topic": "patient.updated",
                    "destination": f"H{n % 4}:adt",
                    "ordering_key": f"Patient/p{n % 2000}",
                    "payload": b"sealed",
                    "created_at": NOW,
                    "status": "delivered" if n < 40_000 else "pending",
                    "attempts": 1 if n < 40_000 else 0,
                }
                for n in range(50_000)
            ]
            await connection.execute(insert(outbox), rows)
            await connection.execute(text("ANALYZE"))
            compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            if postgres:
                # A prepared statement's generic plan cannot use a partial index whose condition is a
                # parameter: ask for the generic plan to check that the condition is literal.
                await connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
                plan = "\n".join(r[0] for r in await connection.execute(text(f"EXPLAIN {compiled}")))
                assert "ix_outbox_active on outbox o" in plan, plan
                assert "ix_outbox_active_key on outbox p" in plan, plan
                assert "Seq Scan" not in plan, plan
            else:
                found = await connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
                plan = "\n".join(str(r[3]) for r in found)
                assert "SCAN o USING INDEX ix_outbox_active" in plan, plan
                assert "SEARCH p USING INDEX ix_outbox_active_key" in plan, plan
            claimed = (await connection.execute(statement)).all()
            # The heads: one per (destination, patient) among the pending events, oldest first.
            assert len(claimed) == 500 and len({(r.destination, r.ordering_key) for r in claimed}) == 500
            assert min(r.seq for r in claimed) == 40_001
            await connection.rollback()
    finally:
        await engine.dispose()
