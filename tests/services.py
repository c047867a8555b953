"""Reaching the real PostgreSQL and Redis the integration tests need.

Without them and without CI, those tests skip with a reason that says how to run them. Under
``CI=true`` an unreachable service is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

POSTGRES_URL = os.environ.get(
    "DUALCODE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DUALCODE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

HOW_TO = {
    "postgres": "start PostgreSQL on 127.0.0.1:5432 (trust auth, database 'test') "
    "or set DUALCODE_TEST_POSTGRES_URL",
    "redis": "start Redis on 127.0.0.1:6379 or set DUALCODE_TEST_REDIS_URL",
}


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 1.0):
            return True
    except OSError:
        return False


def require(service: str) -> str:
    """Return the service URL, or skip (fail under CI=true) when it does not answer."""
    url, port = (POSTGRES_URL, 5432) if service == "postgres" else (REDIS_URL, 6379)
    if _answers(url, port):
        return url
    message = f"{service} is not reachable at {url}: {HOW_TO[service]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)
