"""QBP^Q23 → RSP^K23, the IHE PIX query (ITI-9), answered from the patient index.

QPD-3 is the source identifier (CX with its domain), QPD-4 the domains wanted (all when empty).
- found, with identifiers in the wanted domains: AA, QAK OK, one PID with those identifiers in PID-3
  (the source identifier itself left out);
- found, none in the wanted domains: AA, QAK NF;
- the identifier or its domain unknown: AE, QAK AE, ERR 204 at QPD-3 (QPD-3.1 the identifier,
  QPD-3.4 the domain); a wanted domain unknown: the same at QPD-4.
"""

from __future__ import annotations

from adapter.errors import RequiredFieldMissing, UnknownKeyIdentifier
from adapter.hl7v2.handlers.parsed import mapped, sender_profile
from adapter.hl7v2.handlers.rsp import Answer, by_system, response
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi.patients import read_surviving
from adapter.storage.ports import UnitOfWork
from mappings.fhir_to_v2.datatypes import cx
from mappings.hl7v2 import Components
from mappings.v2_to_fhir import PixQuery, Unmapped


class PixQueryHandler:
    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        message, result = mapped(context)
        query = result.query
        if not isinstance(query, PixQuery) or message.find("QPD") is None:
            raise RequiredFieldMissing("QBP^Q23 without a QPD segment", hl7_location="QPD")
        answer, patient_id = await self._answer(context, uow, query, result.issues)
        found = (f"Patient/{patient_id}",) if patient_id else ()
        reply = response(context, message, "K23", answer)
        return HandlerResult(patient_id=patient_id, resources=found, response=reply)

    async def _answer(
        self, context: MessageContext, uow: UnitOfWork, query: PixQuery, issues: tuple[Unmapped, ...]
    ) -> tuple[Answer, str | None]:
        source = query.source
        if not source.get("value"):
            missing = RequiredFieldMissing("QPD-3 has no identifier", hl7_location="QPD-3.1")
            return Answer("AR", error=missing), None
        if not source.get("system"):
            error = UnknownKeyIdentifier(
                "the source identifier's domain is not known", hl7_location="QPD-3.4"
            )
            return Answer("AE", error=error), None
        if any(i.location.startswith("QPD-4") for i in issues):
            error = UnknownKeyIdentifier("a requested domain is not known", hl7_location="QPD-4")
            return Answer("AE", error=error), None
        link = await uow.identities.find(str(source["system"]), str(source["value"]))
        if link is None:
            error = UnknownKeyIdentifier("no patient is known by this identifier", hl7_location="QPD-3.1")
            return Answer("AE", error=error), None
        patient = await read_surviving(uow, link.patient_id)
        wanted = set(query.target_systems)
        identifiers = [
            i
            for i in patient.body.get("identifier", [])
            if i.get("system")
            and i.get("value")
            and (i["system"], i["value"]) != (source["system"], source["value"])
            and (not wanted or i["system"] in wanted)
        ]
        if not identifiers:
            return Answer("NF"), patient.id
        profile = sender_profile(context.config)
        cxs: list[str | Components] = [
            rep for rep in (cx(by_system(i), profile) for i in identifiers) if rep is not None
        ]
        return Answer("OK", pids=({3: cxs},)), patient.id
