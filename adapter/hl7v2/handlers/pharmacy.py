"""Pharmacy: RDE^O11 (ORC + RXE/TQ1/RXR) → MedicationRequest; RDS^O13 (RXD) → MedicationDispense
(with the MedicationRequest of the same order when RXE comes along). Both reference the resolved
Patient; a dispense of an order sent before updates that MedicationRequest (same placer number).
Each is announced to the hospitals (outbox ``pharmacy.prescribed`` / ``pharmacy.dispensed``) in the
same unit of work."""

from __future__ import annotations

from adapter.hl7v2.handlers.feed import apply_feed
from adapter.hl7v2.handlers.parsed import hospital_source, sender_profile
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex, events
from adapter.storage.ports import UnitOfWork

_REQUEST = frozenset({"MedicationRequest"})
_DISPENSE = frozenset({"MedicationDispense"})


class PrescriptionHandler:
    """RDE^O11."""

    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        result = await apply_feed(
            context, uow, self._index, primary=_REQUEST, requires=("MedicationRequest", "RXE")
        )
        return await _announced(context, uow, result, primary=_REQUEST)


class DispenseHandler:
    """RDS^O13."""

    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        result = await apply_feed(
            context, uow, self._index, primary=_DISPENSE, requires=("MedicationDispense", "RXD")
        )
        return await _announced(context, uow, result, primary=_DISPENSE)


async def _announced(
    context: MessageContext, uow: UnitOfWork, result: HandlerResult, *, primary: frozenset[str]
) -> HandlerResult:
    """Outbox events for what the message is about (an RDS's order context is not re-announced)."""
    kept = [r for r in result.resources if r.split("/")[0] in primary or r.startswith("Patient/")]
    source = hospital_source(sender_profile(context.config), context.sender)
    await events.publish_recorded(uow, kept, source=source)
    return result
