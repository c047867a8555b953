"""PV1 (+ PV2) -> Encounter, following the V2-to-FHIR IG (PV1[Encounter], PV2[Encounter])."""

from __future__ import annotations

from mappings.codes import IdentifierKey
from mappings.hl7v2 import Repetition, Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import Json, codeable_concept, date_time, xcn_reference
from mappings.v2_to_fhir.identifiers import identifier, identifier_type
from mappings.v2_to_fhir.systems import V3_ACT_CODE, V3_NULL_FLAVOR, V3_PARTICIPATION_TYPE

PV1_MAPPED = frozenset({1, 2, 3, 4, 7, 8, 9, 10, 14, 17, 18, 19, 36, 44, 45, 50})
PV2_MAPPED = frozenset({3})

# HL7 table 0004 (patient class) -> v3 ActCode encounter class
_CLASS = {
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "E": ("EMER", "emergency"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("IMP", "inpatient encounter"),
}
# Trigger event -> Encounter.status when PV1-45 (discharge) is empty
_STATUS = {"A01": "in-progress", "A04": "arrived", "A05": "planned", "A14": "planned", "A03": "finished"}
_CANCELLED = frozenset({"A11", "A13", "A27", "A38"})
_PARTICIPANTS = (
    (7, "ATND", "attender"),
    (8, "REF", "referrer"),
    (9, "CON", "consultant"),
    (17, "ADM", "admitter"),
)


def is_placeholder_pv1(pv1: Segment) -> bool:
    """A PV1 that only says "no visit" (class N, nothing else): many ADT A08/A28/A31 carry one."""
    return pv1.value(2) in ("N", "") and all(not pv1.raw(n) for n in range(3, len(pv1) + 1))


def encounter_from_pv1(pv1: Segment, where: str, trigger: str, subject: str, ctx: Context) -> Json:
    encounter: Json = {"resourceType": "Encounter"}
    idents = _visit_identifiers(pv1, where, ctx)
    if idents:
        encounter["identifier"] = idents
    discharged = date_time(pv1.value(45), ctx.profile) if pv1.value(45) else None
    if trigger in _CANCELLED:
        status = "cancelled"
    else:
        status = "finished" if discharged else _STATUS.get(trigger, "unknown")
    encounter["status"] = status
    encounter["class"] = _class(pv1.value(2))
    types = [c for c in (codeable_concept(r, ctx.profile) for f in (4, 18) for r in pv1.field(f)) if c]
    if types:
        encounter["type"] = types
    service = codeable_concept(pv1.field(10).repetition(), ctx.profile)
    if service:
        encounter["serviceType"] = service
    encounter["subject"] = {"reference": subject}
    participants = []
    for number, code, display in _PARTICIPANTS:
        for rep in pv1.field(number):
            ref = xcn_reference(rep)
            if ref:
                kind = {"coding": [{"system": V3_PARTICIPATION_TYPE, "code": code, "display": display}]}
                participants.append({"type": [kind], "individual": ref})
    if participants:
        encounter["participant"] = participants
    period = _period(pv1, where, discharged, ctx)
    if period:
        encounter["period"] = period
    hospitalization = _hospitalization(pv1, ctx)
    if hospitalization:
        encounter["hospitalization"] = hospitalization
    location = _location(pv1.field(3).repetition())
    if location:
        encounter["location"] = [{"location": {"display": location}}]
    ctx.account(pv1, where, PV1_MAPPED)
    return encounter


def add_pv2(encounter: Json, pv2: Segment, where: str, ctx: Context) -> None:
    reason = codeable_concept(pv2.field(3).repetition(), ctx.profile)
    if reason:
        encounter.setdefault("reasonCode", []).append(reason)
    ctx.account(pv2, where, PV2_MAPPED)


def _visit_identifiers(pv1: Segment, where: str, ctx: Context) -> list[Json]:
    # A visit number has no table entry of its own: outpatient or inpatient number by the class.
    key = IdentifierKey.INPATIENT_NUMBER if pv1.value(2) in ("I", "B") else IdentifierKey.OUTPATIENT_NUMBER
    out = []
    for number in (19, 50):
        rep = pv1.field(number).repetition()
        ident, problem = identifier(rep, ctx.profile)
        if not ident:
            continue
        if problem:
            typed: Json = {"type": identifier_type(rep.component(5) or "VN")}
            ident = typed | ident | {"system": ctx.profile.systems.system(key)}
        out.append(_system_first(ident))
    return out


def _system_first(ident: Json) -> Json:
    order = ("type", "system", "value", "period", "assigner")
    return {k: ident[k] for k in order if k in ident}


def _class(code: str) -> Json:
    if code in _CLASS:
        act, display = _CLASS[code]
        return {"system": V3_ACT_CODE, "code": act, "display": display}
    return {"system": V3_NULL_FLAVOR, "code": "UNK", "display": "unknown"}


def _period(pv1: Segment, where: str, discharged: str | None, ctx: Context) -> Json:
    period: Json = {}
    if pv1.value(44):
        start = date_time(pv1.value(44), ctx.profile)
        if start:
            period["start"] = start
        else:
            ctx.issue(f"{where}-44", "not a date/time")
    if discharged:
        period["end"] = discharged
    elif pv1.value(45):
        ctx.issue(f"{where}-45", "not a date/time")
    return period


def _hospitalization(pv1: Segment, ctx: Context) -> Json:
    out: Json = {}
    source = codeable_concept(pv1.field(14).repetition(), ctx.profile)
    if source:
        out["admitSource"] = source
    disposition = codeable_concept(pv1.field(36).repetition(), ctx.profile)
    if disposition:
        out["dischargeDisposition"] = disposition
    return out


def _location(pl: Repetition) -> str:
    """PL: facility, then building/floor, point of care, room, bed; PL.9 (description) when sent."""
    if pl.component(9):
        return pl.component(9)
    parts = (pl.component(n) for n in (4, 7, 8, 1, 2, 3))
    return " ".join(p for p in parts if p)
