from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapter.mpi import PatientIndex
from adapter.storage import MemoryStorage
from tests.unit.mpi.people import SYSTEMS


@pytest.fixture
async def storage() -> AsyncIterator[MemoryStorage]:
    store = MemoryStorage()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def index() -> PatientIndex:
    return PatientIndex(systems=SYSTEMS)
