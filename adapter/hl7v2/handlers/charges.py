"""DFT^P03: financial transactions (FT1, with quantity, unit price and amount) → ChargeItem(s) of the
resolved Patient (and its visit, when PV1 names one). Each ChargeItem is announced to the hospitals
(outbox ``payment.charged``, or ``settlement.paid`` for a payment) in the same unit of work."""

from __future__ import annotations

from adapter.hl7v2.handlers.feed import apply_feed
from adapter.hl7v2.handlers.parsed import hospital_source, sender_profile
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex, events
from adapter.storage.ports import UnitOfWork

PRIMARY = frozenset({"ChargeItem"})


class ChargeHandler:
    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        result = await apply_feed(context, uow, self._index, primary=PRIMARY, requires=("ChargeItem", "FT1"))
        source = hospital_source(sender_profile(context.config), context.sender)
        await events.publish_recorded(uow, result.resources, source=source)
        return result
