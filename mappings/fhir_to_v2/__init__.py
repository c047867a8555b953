"""FHIR R4 -> HL7 v2 (pure): Patient/Encounter/Coverage -> ADT^A01/A04/A08/A28/A31, merge -> ADT^A40,
ChargeItem -> DFT^P03, MedicationDispense -> RDS^O13.

The inverse of `mappings.v2_to_fhir` for the fields it maps: a v2 message mapped to FHIR and back
keeps every mapped field (tests/unit/mappings/v2/test_round_trip.py).

    msg = adt_message("A04", patient, Envelope(control_id="C1", timestamp="2025-06-01T08:30:00+08:00"))
    text = msg.encode()
"""

from mappings.fhir_to_v2.datatypes import ce, coding_system_name, cx, dtm, xad, xpn, xtn
from mappings.fhir_to_v2.message import AdtEvent, Envelope, adt_message, merge_message
from mappings.fhir_to_v2.orders import dft_message, rds_message

__all__ = [
    "AdtEvent",
    "Envelope",
    "adt_message",
    "ce",
    "coding_system_name",
    "cx",
    "dft_message",
    "dtm",
    "merge_message",
    "rds_message",
    "xad",
    "xpn",
    "xtn",
]
