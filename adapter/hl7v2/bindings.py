"""The binding table the service starts with: the one place handlers are registered.

To add a handler, append a ``Binding`` here (or build a table with ``BindingTable.with_binding``).
Patterns are shell-style; the most specific match wins, so a catch-all ``Binding(handler=…)`` with
every field ``*`` can sit beside exact ones. Registration points for the handlers that will come with
mappings.v2_to_fhir are marked below.
"""

from __future__ import annotations

from adapter.hl7v2.interim_adt import adt_patient
from adapter.hl7v2.router import Binding, BindingTable


def default_bindings() -> BindingTable:
    return BindingTable(
        [
            # INTERIM: replace with the mappings-based ADT handler (A01/A04/A05/A08/A28/A31 → index +
            # Patient + Encounter + Coverage) and add A40 (merge).
            Binding(adt_patient, "adt-patient-interim", message_type="ADT", trigger_event="A04"),
            Binding(adt_patient, "adt-patient-interim", message_type="ADT", trigger_event="A08"),
            # Registration points (lead): QBP^Q23 → RSP^K23 and QBP^Q22 → RSP^K22 (HandlerResult.response),
            # DFT^P03 → ChargeItem, RDE^O11 → MedicationRequest, RDS^O13 → MedicationDispense,
            # ORU^R01 → DiagnosticReport + Observation.
        ]
    )
