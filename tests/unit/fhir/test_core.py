"""The FHIR core without HTTP: request in, response out, over the in-memory storage port."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.errors import InsufficientScope, ResourceNotFound, VersionConflict
from adapter.fhir.core import FhirCore
from adapter.fhir.exchange import FhirRequest
from adapter.fhir.patient_writes import PatientWrites
from adapter.mpi import PatientIndex
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.caller import Caller
from adapter.security.scopes import scopes_for_roles
from adapter.storage.memory import MemoryStorage
from mappings.codes import default_identifier_systems
from tests.r4 import assert_valid_r4

BASE = "http://test/fhir"
HIS = Caller("his-client", scopes_for_roles(["his"]), frozenset({"his"}))
ADMIN = Caller("admin-client", scopes_for_roles(["admin"]), frozenset({"admin"}))
NOBODY = Caller("no-scopes", frozenset())


def patient(value: str = "11010519491231002X") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": value}],
    }


@pytest.fixture
def core() -> FhirCore:
    storage = MemoryStorage()
    systems = default_identifier_systems()
    writes = PatientWrites(PatientIndex(systems=systems), systems)
    return FhirCore(storage, Auditor(), AuditWriter(storage), writes)


async def test_create_then_read_vread_update_history(core: FhirCore) -> None:
    created = await core.handle(FhirRequest("create", BASE, "Patient", body=patient()), HIS)
    assert created.status == 201
    pid = created.body["id"]
    assert created.headers["Location"] == f"{BASE}/Patient/{pid}/_history/1"
    read = await core.handle(FhirRequest("read", BASE, "Patient", pid), HIS)
    assert read.headers["ETag"] == 'W/"1"'
    updated = await core.handle(
        FhirRequest("update", BASE, "Patient", pid, body={**read.body, "gender": "male"}, if_match='W/"1"'),
        HIS,
    )
    assert updated.body["meta"]["versionId"] == "2"
    with pytest.raises(VersionConflict):
        await core.handle(FhirRequest("update", BASE, "Patient", pid, body=read.body, if_match='W/"1"'), HIS)
    old = await core.handle(FhirRequest("vread", BASE, "Patient", pid, "1"), HIS)
    assert "gender" not in old.body
    history = await core.handle(FhirRequest("history-instance", BASE, "Patient", pid), HIS)
    assert history.body["total"] == 2
    assert_valid_r4(history.body)


async def test_search_paging_links(core: FhirCore) -> None:
    for n in range(3):
        await core.handle(
            FhirRequest("create", BASE, "Patient", body=patient(f"V{n}") | {"gender": "male"}), HIS
        )
    page = await core.handle(FhirRequest("search-type", BASE, "Patient", query=(("identifier", "V1"),)), HIS)
    assert len(page.body["entry"]) == 1 and page.body["total"] == 1
    assert_valid_r4(page.body)


async def test_scope_is_checked_and_refusals_are_audited(core: FhirCore) -> None:
    created = await core.handle(FhirRequest("create", BASE, "Patient", body=patient()), HIS)
    pid = created.body["id"]
    with pytest.raises(InsufficientScope):
        await core.handle(FhirRequest("read", BASE, "Patient", pid), NOBODY)
    with pytest.raises(ResourceNotFound):
        await core.handle(FhirRequest("read", BASE, "Patient", "missing"), HIS)
    audit = await core.handle(
        FhirRequest("search-type", BASE, "AuditEvent", query=(("patient", pid),)), ADMIN
    )
    events = [entry["resource"] for entry in audit.body["entry"]]
    outcomes = {(e["action"], e["outcome"]) for e in events}
    assert ("C", "0") in outcomes and ("R", "4") in outcomes
    for event in events:
        assert_valid_r4(event)


async def test_audit_events_are_admin_only(core: FhirCore) -> None:
    with pytest.raises(InsufficientScope):
        await core.handle(FhirRequest("search-type", BASE, "AuditEvent"), HIS)


async def test_capability_statement_is_valid_r4(core: FhirCore) -> None:
    statement = await core.handle(FhirRequest("capabilities", BASE), NOBODY)
    assert_valid_r4(statement.body)
    assert statement.body["fhirVersion"] == "4.0.1"
