"""SQL Storage (SQLAlchemy 2 Core): SQLite via stdlib sqlite3 on the event loop, PostgreSQL via asyncpg."""

from adapter.storage.sql.engine import make_engine
from adapter.storage.sql.schema import metadata
from adapter.storage.sql.storage import SqlStorage, SqlUnitOfWork

__all__ = ["SqlStorage", "SqlUnitOfWork", "make_engine", "metadata"]
