"""The contract suite runs every test against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapter.storage import MemoryStorage, SqlStorage, Storage, Vault
from tests.contract.storage.databases import (
    create_postgres_database,
    drop_postgres_database,
    empty_tables,
    sqlite_database,
)

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_url, "contract")
    yield url
    drop_postgres_database(postgres_url, url)


async def prepare_sql(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of the given backend."""
    if backend == "sqlite":
        return await sqlite_database(tmp_path)
    url: str = request.getfixturevalue("postgres_database")
    await empty_tables(url)
    return url


@pytest.fixture
def vault() -> Vault:
    return Vault.generate()


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
async def storage(request: pytest.FixtureRequest, tmp_path: Path, vault: Vault) -> AsyncIterator[Storage]:
    backend: str = request.param
    store: Storage
    if backend == "memory":
        store = MemoryStorage()
    else:
        store = SqlStorage(await prepare_sql(backend, tmp_path, request), vault)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", POSTGRES])
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated empty SQL database, for tests that open several storages on it."""
    return await prepare_sql(request.param, tmp_path, request)
