"""Golden files: tests/golden/fhir_to_v2/<case>.json builds exactly <case>.hl7, and the message read
back gives the same patient identifiers, names and visit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mappings.hl7v2 import parse
from mappings.v2_to_fhir import map_message
from tests.golden.cases import as_lines, build, fhir_cases

CASES = fhir_cases()


def test_the_events_are_covered() -> None:
    events = {json.loads(p.read_text(encoding="utf-8"))["event"] for p in CASES}
    assert {"A04", "A08", "A28", "A31", "A40"} <= events


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_output_matches_the_golden_file(case: Path) -> None:
    assert as_lines(build(case)) == case.with_suffix(".hl7").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_the_built_message_reads_back(case: Path) -> None:
    spec = json.loads(case.read_text(encoding="utf-8"))
    sent = spec.get("patient") or spec["surviving"]
    back = map_message(parse(build(case).encode()))
    patient = back.resources("Patient")[0]
    assert [(i["system"], i["value"]) for i in patient["identifier"]] == [
        (i["system"], i["value"]) for i in sent["identifier"]
    ]
    assert [(n.get("family"), n.get("given")) for n in patient["name"]] == [
        (n.get("family"), n.get("given")) for n in sent["name"]
    ]
    assert patient["gender"] == sent["gender"]
    assert patient.get("telecom", []) == sent.get("telecom", [])
    if "encounter" in spec:
        encounter = back.resources("Encounter")[0]
        assert encounter["identifier"][0]["system"] == spec["encounter"]["identifier"][0]["system"]
        assert encounter["period"] == spec["encounter"]["period"]
    assert back.unmapped == ()
