"""ORU^R01: results (OBR + OBX + NTE) → DiagnosticReport with its Observations, referencing the
resolved Patient. A corrected result sent again (same placer/filler number) is a new version of the
same DiagnosticReport."""

from __future__ import annotations

from adapter.hl7v2.handlers.feed import apply_feed
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex
from adapter.storage.ports import UnitOfWork

PRIMARY = frozenset({"DiagnosticReport", "Observation"})


class ResultHandler:
    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        return await apply_feed(
            context, uow, self._index, primary=PRIMARY, requires=("DiagnosticReport", "OBR")
        )
