from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import RunningService, start_service


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    data_dir: Path = tmp_path_factory.mktemp("service")
    running = start_service(data_dir)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def admin_token(service: RunningService) -> str:
    return service.token("admin", name="e2e-admin")


@pytest.fixture(scope="session")
def his_token(service: RunningService) -> str:
    return service.token("his", name="e2e-his")


@pytest.fixture(scope="session")
def pharmacy_token(service: RunningService) -> str:
    return service.token("pharmacy", name="e2e-pharmacy")


@pytest.fixture(scope="session")
def sampling_token(service: RunningService) -> str:
    return service.token("sampling", name="e2e-sampling")
