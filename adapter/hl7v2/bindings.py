"""The binding table the service starts with: the one place handlers are registered.

To add a handler, append a ``Binding`` here (or build a table with ``BindingTable.with_binding``).
Patterns are shell-style; the most specific match wins, so a catch-all ``Binding(handler=…)`` with
every field ``*`` can sit beside exact ones. The handlers (``adapter.hl7v2.handlers``) share one
``PatientIndex``: the same one the card scans resolve through, when the caller passes it.

ORU^R01 goes to ``TubeResultHandler``: a result for a pooled sampling tube (SPM-2 = a tube's
barcode) goes to the sampling service, any other to the patient's results.
"""

from __future__ import annotations

from adapter.hl7v2.handlers import (
    ADT_EVENTS,
    AdtHandler,
    ChargeHandler,
    DispenseHandler,
    MergeHandler,
    PdqQueryHandler,
    PixQueryHandler,
    PrescriptionHandler,
    ResultHandler,
)
from adapter.hl7v2.handlers.tubes import TubeResultHandler
from adapter.hl7v2.router import Binding, BindingTable
from adapter.mpi import PatientIndex
from adapter.security.audit import Auditor
from adapter.settings import Settings

DEFAULT_TUBE_PATTERN: str = Settings.model_fields["sampling_tube_pattern"].default


def default_bindings(
    index: PatientIndex | None = None,
    *,
    auditor: Auditor | None = None,
    tube_pattern: str = DEFAULT_TUBE_PATTERN,
) -> BindingTable:
    """``auditor`` records tube results (the gateway's, in the service); ``tube_pattern`` is
    DUALCODE_SAMPLING_TUBE_PATTERN."""
    index = index or PatientIndex()
    adt = AdtHandler(index)
    results = TubeResultHandler(ResultHandler(index), auditor=auditor or Auditor(), tube_pattern=tube_pattern)
    return BindingTable(
        [
            *(Binding(adt, "adt-patient", message_type="ADT", trigger_event=event) for event in ADT_EVENTS),
            Binding(MergeHandler(index), "adt-merge", message_type="ADT", trigger_event="A40"),
            Binding(PixQueryHandler(), "pix-query", message_type="QBP", trigger_event="Q23"),
            Binding(PdqQueryHandler(), "pdq-query", message_type="QBP", trigger_event="Q22"),
            Binding(ChargeHandler(index), "dft-charges", message_type="DFT", trigger_event="P03"),
            Binding(PrescriptionHandler(index), "rde-prescription", message_type="RDE", trigger_event="O11"),
            Binding(DispenseHandler(index), "rds-dispense", message_type="RDS", trigger_event="O13"),
            Binding(results, "oru-results", message_type="ORU", trigger_event="R01"),
        ]
    )
