"""QBP^Q22 → RSP^K22, the IHE PDQ query (ITI-21), answered from the patient index's Patients.

QPD-3 parameters (``@PID.5.1^张``) become Patient searches: identifier, name (family or given),
birth date and sex are looked up in the index; address and phone parts then narrow the candidates.
QPD-8 (domains wanted) keeps only people with an identifier there, and PID-3 lists only those.
RCP-2 limits how many PIDs are sent (QAK-4/5/6: found, sent, left). Merged (inactive) Patients are
never returned. No parameter the index can search: AR 101 at QPD-3; an unknown domain: AE 204.
"""

from __future__ import annotations

from typing import Any, Final

from adapter.errors import RequiredFieldMissing, UnknownKeyIdentifier
from adapter.fhir.search_params import criteria_for
from adapter.hl7v2.handlers.parsed import mapped, sender_profile
from adapter.hl7v2.handlers.rsp import Answer, by_system, response
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.storage.ports import UnitOfWork
from mappings.fhir_to_v2.segments import pid
from mappings.v2_to_fhir import PdqQuery

MAX_FOUND: Final = 200  # candidates read at most; RCP-2 (default 100) limits what is sent
DEFAULT_LIMIT: Final = 100
_INDEXED = {
    "family": "name",
    "given": "name",
    "birthdate": "birthdate",
    "gender": "gender",
    "identifier": "identifier",
}


class PdqQueryHandler:
    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        message, result = mapped(context)
        query = result.query
        if not isinstance(query, PdqQuery) or message.find("QPD") is None:
            raise RequiredFieldMissing("QBP^Q22 without a QPD segment", hl7_location="QPD")
        if any(i.location.startswith("QPD-8") for i in result.issues):
            unknown = UnknownKeyIdentifier("a requested domain is not known", hl7_location="QPD-8")
            return HandlerResult(response=response(context, message, "K22", Answer("AE", error=unknown)))
        criteria = [(_INDEXED[p], v) for p, v in query.search if p in _INDEXED and v]
        if not criteria:
            error = RequiredFieldMissing(
                "QPD-3 has no parameter the index searches (identifier, name, birth date, sex)",
                hl7_location="QPD-3",
            )
            return HandlerResult(response=response(context, message, "K22", Answer("AR", error=error)))
        stored = await uow.resources.search("Patient", criteria_for("Patient", criteria), limit=MAX_FOUND)
        wanted = set(query.target_systems)
        found = [
            s.body
            for s in stored
            if s.body.get("active", True)
            and all(_narrows(s.body, p, v) for p, v in query.search if p not in _INDEXED)
            and (not wanted or any(i.get("system") in wanted for i in s.body.get("identifier", [])))
        ]
        found.sort(key=lambda body: str(body.get("id")))
        sent = found[: query.limit or DEFAULT_LIMIT]
        profile = sender_profile(context.config)
        pids = tuple(_pid(body, wanted, profile) for body in sent)
        answer = Answer("OK" if found else "NF", pids=pids, hits=len(found))
        return HandlerResult(
            resources=tuple(f"Patient/{body['id']}" for body in sent),
            response=response(context, message, "K22", answer),
        )


def _pid(body: dict[str, Any], wanted: set[str], profile: Any) -> dict[int, Any]:
    identifiers = [
        by_system(i) for i in body.get("identifier", []) if not wanted or i.get("system") in wanted
    ]
    body = {**body, "identifier": identifiers}
    fields = pid(body, profile)
    fields.pop(1, None)
    return fields


def _narrows(body: dict[str, Any], param: str, value: str) -> bool:
    """Address and phone parts: the value appears in one of the Patient's addresses or phones."""
    needle = value.strip().casefold()
    if param.startswith("address"):
        texts = [" ".join(str(v) for v in _flat(a)) for a in body.get("address", [])]
    elif param == "phone":
        texts = [str(t.get("value", "")) for t in body.get("telecom", [])]
    else:
        return True  # a parameter the mapping reported already (kept in the parse report)
    return any(needle in text.casefold() for text in texts)


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat(v)]
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]
