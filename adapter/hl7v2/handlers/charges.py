"""DFT^P03: financial transactions (FT1, with quantity, unit price and amount) → ChargeItem(s) of the
resolved Patient (and its visit, when PV1 names one)."""

from __future__ import annotations

from adapter.hl7v2.handlers.feed import apply_feed
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex
from adapter.storage.ports import UnitOfWork

PRIMARY = frozenset({"ChargeItem"})


class ChargeHandler:
    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        return await apply_feed(context, uow, self._index, primary=PRIMARY, requires=("ChargeItem", "FT1"))
