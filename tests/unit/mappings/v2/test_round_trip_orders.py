"""v2 -> FHIR -> v2 -> FHIR for charges and dispenses: DFT^P03 and RDS^O13 rebuilt from the FHIR they
mapped to keep every mapped FT1 / RXD field (only references, which the rebuild does not carry, and the
order's own MedicationRequest are left aside)."""

from __future__ import annotations

from typing import Any

from mappings.fhir_to_v2 import dft_message, rds_message
from mappings.hl7v2 import parse
from mappings.v2_to_fhir import map_message
from tests.golden.cases import V2_TO_FHIR, profile_for, read_message
from tests.unit.mappings.v2.test_round_trip import envelope_of, first

_REFERENCES = ("subject", "context", "authorizingPrescription")


def _without_references(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in _REFERENCES}


def test_dft_round_trip_keeps_every_mapped_ft1_field() -> None:
    path = V2_TO_FHIR / "dft_p03_two_ft1.hl7"
    original = read_message(path)
    profile = profile_for(path, original)
    before = map_message(original, profile)
    patient, charges = first(before, "Patient"), before.resources("ChargeItem")
    assert patient is not None and len(charges) == 2
    rebuilt = dft_message(patient, charges, envelope_of(original), encounter=first(before, "Encounter"))
    text = rebuilt.encode()
    assert (parse(text).message_type, parse(text).trigger_event) == ("DFT", "P03")
    after = map_message(parse(text), profile)
    assert [_without_references(c) for c in after.resources("ChargeItem")] == [
        _without_references(c) for c in charges
    ]
    assert after.resources("Patient") == before.resources("Patient")
    assert after.unmapped == ()


def test_rds_round_trip_keeps_every_mapped_rxd_field() -> None:
    path = V2_TO_FHIR / "rds_o13.hl7"
    original = read_message(path)
    profile = profile_for(path, original)
    before = map_message(original, profile)
    patient, dispense = first(before, "Patient"), first(before, "MedicationDispense")
    assert patient is not None and dispense is not None
    rebuilt = rds_message(patient, dispense, envelope_of(original), encounter=first(before, "Encounter"))
    message = parse(rebuilt.encode())
    assert (message.message_type, message.trigger_event) == ("RDS", "O13")
    after = first(map_message(message, profile), "MedicationDispense")
    assert after is not None
    assert _without_references(after) == _without_references(dispense)
