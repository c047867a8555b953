"""Throw-away databases for the storage tests: a migrated SQLite file, or a PostgreSQL database of its
own per test session (so parallel runs and other suites on the same server never interfere)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from adapter.storage import migrate
from adapter.storage.sql import make_engine, metadata

T = TypeVar("T")


def run_outside_loop(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop in another thread, so sync session fixtures
    neither need nor disturb the loop pytest-asyncio gives each test."""

    async def _run() -> T:
        return await factory()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _run()).result()


async def sqlite_database(directory: Path) -> str:
    url = f"sqlite+aiosqlite:///{directory / 'db' / 'dualcode.sqlite'}"
    await migrate(url)
    return url


def create_postgres_database(base_url: str, purpose: str) -> str:
    """CREATE DATABASE dualcode_<purpose>_<pid>_<random>, migrated to head. Returns its URL."""
    name = f"dualcode_{purpose}_{os.getpid()}_{secrets.token_hex(3)}"
    run_outside_loop(lambda: _admin(base_url, f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        run_outside_loop(lambda: migrate(url))
    except BaseException:
        drop_postgres_database(base_url, url)
        raise
    return url


def drop_postgres_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    run_outside_loop(lambda: _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def empty_tables(url: str) -> None:
    """Remove every row (and reset the sequences) between tests sharing one PostgreSQL database."""
    engine = make_engine(url, pool_size=None, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    finally:
        await engine.dispose()


async def _admin(base_url: str, statement: str) -> None:
    dsn = make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
