"""Migrations: packaged, idempotent, reversible, and exactly the schema the code queries."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from adapter.storage import downgrade, migrate
from adapter.storage.migrate import MIGRATIONS
from adapter.storage.sql import make_engine, metadata


async def _inspect(url: str) -> tuple[set[str], list[object], str | None]:
    def look(connection: Connection) -> tuple[set[str], list[object], str | None]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
        return set(inspect(connection).get_table_names()), diff, context.get_current_revision()

    engine = make_engine(url, pool_size=None, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


def head_revision() -> str:
    """The one head of the shipped migration chain (a second head would be a merge to make)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return str(heads[0])


def test_migrations_ship_in_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert (MIGRATIONS / "__init__.py").is_file() and (MIGRATIONS / "versions" / "__init__.py").is_file()
    assert list((MIGRATIONS / "versions").glob("0001_*.py"))


async def test_migrate_creates_the_directory_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'dir' / 'db.sqlite'}"
    await migrate(url)
    await migrate(url)
    tables, diff, revision = await _inspect(url)
    assert {table.name for table in metadata.sorted_tables} <= tables
    assert diff == []  # the migration builds exactly what schema.py describes
    assert revision == head_revision()


async def test_downgrade_to_base_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await migrate(url)
    await downgrade(url)
    tables, _, revision = await _inspect(url)
    assert tables == {"alembic_version"} and revision is None
    await migrate(url)
    assert (await _inspect(url))[2] == head_revision()
