"""The binding table the service starts with: the one place handlers are registered.

To add a handler, append a ``Binding`` here (or build a table with ``BindingTable.with_binding``).
Patterns are shell-style; the most specific match wins, so a catch-all ``Binding(handler=…)`` with
every field ``*`` can sit beside exact ones. The handlers (``adapter.hl7v2.handlers``) share one
``PatientIndex``: the same one the card scans resolve through, when the caller passes it.
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
from adapter.hl7v2.router import Binding, BindingTable
from adapter.mpi import PatientIndex


def default_bindings(index: PatientIndex | None = None) -> BindingTable:
    index = index or PatientIndex()
    adt = AdtHandler(index)
    return BindingTable(
        [
            *(Binding(adt, "adt-patient", message_type="ADT", trigger_event=event) for event in ADT_EVENTS),
            Binding(MergeHandler(index), "adt-merge", message_type="ADT", trigger_event="A40"),
            Binding(PixQueryHandler(), "pix-query", message_type="QBP", trigger_event="Q23"),
            Binding(PdqQueryHandler(), "pdq-query", message_type="QBP", trigger_event="Q22"),
            Binding(ChargeHandler(index), "dft-charges", message_type="DFT", trigger_event="P03"),
            Binding(PrescriptionHandler(index), "rde-prescription", message_type="RDE", trigger_event="O11"),
            Binding(DispenseHandler(index), "rds-dispense", message_type="RDS", trigger_event="O13"),
            Binding(ResultHandler(index), "oru-results", message_type="ORU", trigger_event="R01"),
        ]
    )
