"""Alembic migrations, shipped inside the package (see adapter.storage.migrate)."""
