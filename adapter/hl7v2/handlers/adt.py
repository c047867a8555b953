"""ADT A01/A04/A05/A08/A28/A31: the patient index (PID, PD1, NK1 → the one Patient, the hospital's
number linked), the visit (PV1/PV2 → Encounter) and insurance (IN1 → Coverage), referencing it.

An update (A08, A28, A31) whose PV1 has no visit number cannot say which visit it is about: it keeps
no Encounter (reported), so repeated updates do not pile up visits. A01/A04/A05 start a visit and
keep it either way."""

from __future__ import annotations

from dataclasses import replace

from adapter.hl7v2.handlers.feed import apply_feed
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex
from adapter.storage.ports import UnitOfWork
from mappings.v2_to_fhir import Entry, Unmapped, V2Result

ADT_EVENTS = ("A01", "A04", "A05", "A08", "A28", "A31")
UPDATES = frozenset({"A08", "A28", "A31"})
PRIMARY = frozenset({"Encounter", "Coverage"})


class AdtHandler:
    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        adjust = _without_unnumbered_visit if context.msh.trigger_event in UPDATES else None
        return await apply_feed(context, uow, self._index, primary=PRIMARY, adjust=adjust)


def _without_unnumbered_visit(result: V2Result) -> V2Result:
    def unnumbered(entry: Entry) -> bool:
        body = entry.resource
        return body["resourceType"] == "Encounter" and not any(
            i.get("value") for i in body.get("identifier", [])
        )

    dropped = [e for e in result.entries if unnumbered(e)]
    if not dropped:
        return result
    note = Unmapped("PV1", "an update without a visit number (PV1-19) keeps no visit")
    return replace(
        result,
        entries=tuple(e for e in result.entries if not unnumbered(e)),
        unmapped=(*result.unmapped, note),
    )
