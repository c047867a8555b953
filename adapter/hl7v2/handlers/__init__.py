"""Message handlers over mappings.v2_to_fhir and the patient index, one module per message family.

Every handler writes only through the unit of work the gateway gives it (which commits with the
message's outcome), resolves the message's PID through ``PatientIndex`` (the same Patient a card scan
finds), and refuses what it cannot do with an ``adapter.errors`` error (AE/AR with ERR). Registered
in ``adapter.hl7v2.bindings``; see docs/hl7v2.md for the table.
"""

from adapter.hl7v2.handlers.adt import ADT_EVENTS, AdtHandler
from adapter.hl7v2.handlers.charges import ChargeHandler
from adapter.hl7v2.handlers.merge import MergeHandler
from adapter.hl7v2.handlers.parsed import mapped, patient_key, sender_profile
from adapter.hl7v2.handlers.pdq import PdqQueryHandler
from adapter.hl7v2.handlers.pharmacy import DispenseHandler, PrescriptionHandler
from adapter.hl7v2.handlers.pix import PixQueryHandler
from adapter.hl7v2.handlers.report import mapping_report
from adapter.hl7v2.handlers.results import ResultHandler

__all__ = [
    "ADT_EVENTS",
    "AdtHandler",
    "ChargeHandler",
    "DispenseHandler",
    "MergeHandler",
    "PdqQueryHandler",
    "PixQueryHandler",
    "PrescriptionHandler",
    "ResultHandler",
    "mapped",
    "mapping_report",
    "patient_key",
    "sender_profile",
]
