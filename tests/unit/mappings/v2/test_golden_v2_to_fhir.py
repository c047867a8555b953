"""Golden files: each tests/golden/v2_to_fhir/<case>.hl7 maps to exactly <case>.json, and every
resource produced is valid FHIR (fhir.resources R4B and plain R4 through fhirclient)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.golden.cases import cases, expected, produce
from tests.r4 import assert_valid_r4

CASES = cases()
REQUIRED = {
    "adt_a04_v25_chinese",
    "adt_a01_v231_pv1_in1",
    "adt_a08_update",
    "adt_a40_merge",
    "dft_p03_two_ft1",
    "rde_o11",
    "rds_o13",
    "oru_r01_nm_st",
    "qbp_q23_pix",
    "qbp_q22_pdq",
    "adt_a04_z_segments",
}


def test_every_required_case_is_there() -> None:
    assert REQUIRED <= {case.stem for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_output_matches_the_golden_file(case: Path) -> None:
    assert produce(case) == expected(case)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_every_resource_is_valid_r4b_and_r4(case: Path) -> None:
    for entry in produce(case)["entries"]:
        resource: dict[str, Any] = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert_valid_r4(resource)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_references_point_at_entries_of_the_same_message(case: Path) -> None:
    out = produce(case)
    urls = {entry["fullUrl"] for entry in out["entries"]}
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str):
                found.append(ref)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(out["entries"])
    assert set(found) <= urls
