from __future__ import annotations

import re

from adapter.errors import (
    DualcodeError,
    InvalidClient,
    VersionConflict,
    all_error_classes,
    internal_error_outcome,
    operation_outcome,
)
from tests.r4 import assert_valid_r4


def test_codes_are_stable_shaped_and_unique() -> None:
    codes = [cls.code for cls in all_error_classes() if cls is not DualcodeError]
    assert all(re.fullmatch(r"DC-\d{4}", code) for code in codes)
    assert len(codes) == len(set(codes))


def test_every_error_renders_a_valid_r4_operation_outcome() -> None:
    for cls in all_error_classes():
        outcome = operation_outcome(cls(), request_id="req-12345678")
        assert_valid_r4(outcome)
        assert outcome["issue"][0]["details"]["coding"][0]["code"] == cls.code


def test_outcome_names_the_element_and_the_oauth_error() -> None:
    outcome = operation_outcome(VersionConflict("stale", expression=("Patient.meta",)))
    assert outcome["issue"][0]["code"] == "conflict"
    assert outcome["issue"][0]["expression"] == ["Patient.meta"]
    oauth = operation_outcome(InvalidClient())["issue"][0]["details"]["coding"][1]
    assert oauth == {"system": "urn:ietf:rfc:6749", "code": "invalid_client"}


def test_internal_error_carries_only_the_request_id() -> None:
    outcome = internal_error_outcome("abcdef0123456789")
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "DC-9000"
    assert "abcdef0123456789" in outcome["issue"][0]["diagnostics"]
    assert_valid_r4(outcome)
