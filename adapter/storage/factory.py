"""Choosing the storage from Settings."""

from __future__ import annotations

from adapter.settings import Settings
from adapter.storage.memory import MemoryStorage
from adapter.storage.ports import Storage
from adapter.storage.sql import SqlStorage
from adapter.storage.vault import Vault

MEMORY_URL = "memory://"


def open_storage(settings: Settings, vault: Vault) -> Storage:
    """MemoryStorage for ``memory://`` (nothing survives a restart), else SqlStorage. The SQL schema
    must be migrated first: ``await migrate(settings.database_url)``."""
    if settings.database_url == MEMORY_URL:
        return MemoryStorage()
    return SqlStorage(settings.database_url, vault, pool_size=settings.database_pool_size)
