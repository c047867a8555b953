from __future__ import annotations

from pathlib import Path

from adapter.settings import Settings
from adapter.storage import MEMORY_URL, MemoryStorage, SqlStorage, Vault, migrate, open_storage


async def test_memory_url_gives_memory_storage() -> None:
    storage = open_storage(Settings(database_url=MEMORY_URL), Vault.generate())
    assert isinstance(storage, MemoryStorage)
    await storage.ping()
    await storage.close()


async def test_sqlite_url_gives_sql_storage(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'dualcode.sqlite'}"
    await migrate(url)
    storage = open_storage(Settings(database_url=url, database_pool_size=2), Vault.generate())
    try:
        assert isinstance(storage, SqlStorage)
        await storage.ping()
    finally:
        await storage.close()
