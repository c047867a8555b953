"""Applying the packaged Alembic migrations (no alembic.ini needed; the scripts ship in the wheel)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from adapter.storage.sql.engine import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x6475_616C_636F_6465  # "dualcode": concurrent migrators take turns


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(url: str, *, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (SQLite or PostgreSQL) to ``revision``, in one transaction.
    The SQLite file's directory is created when missing."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, *, revision: str = "base") -> None:
    await _run(url, lambda config: command.downgrade(config, revision))


def migrate_sync(url: str, *, revision: str = "head") -> None:
    """For callers without an event loop (the CLI)."""
    asyncio.run(migrate(url, revision=revision))


async def _run(url: str, step: Callable[[Config], None]) -> None:
    # NullPool: a one-off connection; BEGIN IMMEDIATE on SQLite (see engine.py) makes it exclusive.
    engine = make_engine(url, pool_size=None, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_in_transaction, step)
    finally:
        await engine.dispose()


def _in_transaction(connection: Connection, step: Callable[[Config], None]) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    step(config)
