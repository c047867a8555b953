from __future__ import annotations

import pytest

from tests.services import require


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL test database (skips, or fails under CI=true, when unreachable)."""
    return require("postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis (db 15) (skips, or fails under CI=true, when unreachable)."""
    return require("redis")
