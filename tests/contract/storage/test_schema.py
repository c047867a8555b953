"""The migrated schema is exactly what the code queries, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from adapter.storage import migrate
from adapter.storage.sql import make_engine, metadata


async def test_migrations_match_the_schema_and_rerun_cleanly(sql_url: str) -> None:
    await migrate(sql_url)  # already at head: a no-op

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = make_engine(sql_url, pool_size=None, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
