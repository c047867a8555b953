"""How the FHIR parts are put together from the settings."""

from __future__ import annotations

import pytest

from adapter.cache.in_process import InProcessCache
from adapter.fhir.assembly import build_fhir
from adapter.scan.known import KnownScan
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.settings import Settings
from adapter.storage.memory import MemoryStorage


@pytest.mark.parametrize("remembered", [0, 3])
async def test_the_scan_remembers_as_many_people_as_configured(remembered: int) -> None:
    storage = MemoryStorage()
    parts = build_fhir(
        Settings(scan_remembered_people=remembered),
        storage=storage,
        cache=InProcessCache(),
        auditor=Auditor(),
        audit_writer=AuditWriter(storage),
    )
    try:
        memory = parts.scan._known  # DUALCODE_SCAN_REMEMBERED_PEOPLE, through the assembly
        for n in range(5):
            memory.put(f"person {n}".encode(), KnownScan("p", 1, b"{}", None, b"[]", None))
        assert len(memory) == remembered
    finally:
        await parts.platforms.aclose()
