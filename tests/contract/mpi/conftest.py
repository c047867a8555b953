"""The MPI contract runs on memory, SQLite and PostgreSQL with the storage suite's own fixtures."""

from tests.contract.storage.conftest import postgres_database, sql_url, storage, vault

__all__ = ["postgres_database", "sql_url", "storage", "vault"]
