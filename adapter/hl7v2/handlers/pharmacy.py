"""Pharmacy: RDE^O11 (ORC + RXE/TQ1/RXR) → MedicationRequest; RDS^O13 (RXD) → MedicationDispense
(with the MedicationRequest of the same order when RXE comes along). Both reference the resolved
Patient; a dispense of an order sent before updates that MedicationRequest (same placer number)."""

from __future__ import annotations

from adapter.hl7v2.handlers.feed import apply_feed
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex
from adapter.storage.ports import UnitOfWork

_REQUEST = frozenset({"MedicationRequest"})
_DISPENSE = frozenset({"MedicationDispense"})


class PrescriptionHandler:
    """RDE^O11."""

    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        return await apply_feed(
            context, uow, self._index, primary=_REQUEST, requires=("MedicationRequest", "RXE")
        )


class DispenseHandler:
    """RDS^O13."""

    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        return await apply_feed(
            context, uow, self._index, primary=_DISPENSE, requires=("MedicationDispense", "RXD")
        )
