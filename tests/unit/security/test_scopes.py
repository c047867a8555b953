from __future__ import annotations

import pytest

from adapter.errors import InvalidRequest, InvalidScopeRequest
from adapter.security.scopes import (
    ADMIN_SCOPE,
    ROLE_SCOPES,
    SAMPLING_SCOPE,
    ResourceScope,
    allows,
    narrow_scopes,
    parse_scope,
    scopes_for_roles,
    validate_roles,
)


def test_every_role_maps_to_scopes_that_parse() -> None:
    assert set(ROLE_SCOPES) == {"his", "pharmacy", "sampling", "admin"}
    for scopes in ROLE_SCOPES.values():
        for scope in scopes:
            assert parse_scope(scope) is not None or scope.startswith("dualcode/")


def test_roles_combine() -> None:
    scopes = scopes_for_roles(["sampling", "pharmacy"])
    assert SAMPLING_SCOPE in scopes and "system/MedicationDispense.cru" in scopes


def test_roles_are_validated() -> None:
    assert validate_roles([" pharmacy", "his", "his"]) == ("his", "pharmacy")
    with pytest.raises(InvalidRequest):
        validate_roles(["root"])
    with pytest.raises(InvalidRequest):
        validate_roles([])


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("system/Patient.rs", ResourceScope("system", "Patient", frozenset("rs"))),
        ("system/*.cruds", ResourceScope("system", "*", frozenset("cruds"))),
        ("system/Patient.read", ResourceScope("system", "Patient", frozenset("rs"))),
        ("system/Patient.write", ResourceScope("system", "Patient", frozenset("cud"))),
        ("patient/Observation.r", ResourceScope("patient", "Observation", frozenset("r"))),
    ],
)
def test_parse_resource_scopes(text: str, parsed: ResourceScope) -> None:
    assert parse_scope(text) == parsed


@pytest.mark.parametrize(
    "text", ["dualcode/admin", "openid", "system/Patient.", "system/Patient.sr", "system/Patient.rr",
             "system/patient.r", "system/Patient.rs?category=x", "launch/Patient.r"]
)  # fmt: skip
def test_opaque_or_malformed_scopes_are_not_resource_scopes(text: str) -> None:
    assert parse_scope(text) is None


def test_canonical_form_orders_the_letters() -> None:
    assert str(ResourceScope("system", "Patient", frozenset("sr"))) == "system/Patient.rs"


def test_allows_follows_the_letters() -> None:
    pharmacy = scopes_for_roles(["pharmacy"])
    assert allows(pharmacy, "Patient", "read")
    assert allows(pharmacy, "Patient", "vread")
    assert allows(pharmacy, "Patient", "search-type")
    assert allows(pharmacy, "Patient", "s")
    assert not allows(pharmacy, "Patient", "create")
    assert not allows(pharmacy, "Patient", "update")
    assert allows(pharmacy, "MedicationDispense", "create")
    assert allows(pharmacy, "MedicationDispense", "patch")
    assert not allows(pharmacy, "MedicationDispense", "delete")
    assert not allows(pharmacy, "Encounter", "read")


def test_a_wildcard_reaches_every_type_but_audit_events() -> None:
    admin = scopes_for_roles(["admin"])
    assert allows(admin, "Encounter", "delete")
    assert allows(admin, "AuditEvent", "search")
    assert allows(admin, "AuditEvent", "read")
    assert not allows(admin, "AuditEvent", "create")
    assert not allows(admin, "AuditEvent", "delete")
    assert not allows({"system/*.cruds"}, "AuditEvent", "read")


def test_only_admin_reads_audit_events() -> None:
    for role in ("his", "pharmacy", "sampling"):
        assert not allows(scopes_for_roles([role]), "AuditEvent", "search")


def test_only_system_context_counts_and_opaque_scopes_grant_nothing() -> None:
    assert not allows({"patient/Patient.cruds", "user/Patient.r", ADMIN_SCOPE}, "Patient", "read")
    assert not allows(set(), "Patient", "read")


def test_an_unknown_interaction_is_a_bug() -> None:
    with pytest.raises(ValueError, match="interaction"):
        allows({"system/Patient.r"}, "Patient", "frobnicate")


def test_no_requested_scope_gets_every_granted_scope() -> None:
    granted = scopes_for_roles(["pharmacy"])
    assert narrow_scopes(granted, None) == granted
    assert narrow_scopes(granted, "  ") == granted


def test_a_client_may_request_a_subset() -> None:
    granted = scopes_for_roles(["his"])
    assert narrow_scopes(granted, "system/Patient.r system/Coverage.s") == {
        "system/Patient.r",
        "system/Coverage.s",
    }
    assert narrow_scopes(granted, "system/Patient.read") == {"system/Patient.rs"}
    assert narrow_scopes(scopes_for_roles(["sampling"]), SAMPLING_SCOPE) == {SAMPLING_SCOPE}


def test_a_wildcard_grant_covers_a_specific_request() -> None:
    assert narrow_scopes(scopes_for_roles(["admin"]), "system/Encounter.d") == {"system/Encounter.d"}


@pytest.mark.parametrize(
    ("role", "requested"),
    [
        ("pharmacy", "system/Patient.c"),  # more letters than granted
        ("pharmacy", "system/Patient.rs system/Encounter.r"),  # one of them not granted
        ("his", "system/*.r"),  # a union of explicit types is not a wildcard
        ("his", "patient/Patient.r"),  # not a system scope
        ("pharmacy", ADMIN_SCOPE),  # opaque scope not granted
        ("admin", "system/AuditEvent.c"),  # protected type beyond its explicit grant
        ("admin", "system/Patient.rs?category=x"),  # granular scopes are not supported
    ],
)
def test_requesting_more_than_granted_is_an_error(role: str, requested: str) -> None:
    with pytest.raises(InvalidScopeRequest):
        narrow_scopes(scopes_for_roles([role]), requested)


def test_too_many_requested_scopes_is_an_error() -> None:
    with pytest.raises(InvalidScopeRequest, match="too many"):
        narrow_scopes(scopes_for_roles(["admin"]), " ".join(["system/Patient.r"] * 65))
