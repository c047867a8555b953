"""SQL Storage (SQLAlchemy 2 Core, async): SQLite via aiosqlite, PostgreSQL via asyncpg."""

from adapter.storage.sql.engine import make_engine
from adapter.storage.sql.schema import metadata
from adapter.storage.sql.storage import SqlStorage, SqlUnitOfWork

__all__ = ["SqlStorage", "SqlUnitOfWork", "make_engine", "metadata"]
