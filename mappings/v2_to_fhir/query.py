"""QPD (+ RCP) of QBP^Q23 (IHE PIX query) and QBP^Q22 (IHE PDQ query) -> query values.

PDQ parameters (QPD-3, ``@PID.5.1^张``) become FHIR Patient search parameters where one exists;
a parameter with none is reported, and the query is still answered on the rest.
"""

from __future__ import annotations

from mappings.hl7v2 import Repetition, Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import date
from mappings.v2_to_fhir.identifiers import identifier, resolve_system
from mappings.v2_to_fhir.result import PdqQuery, PixQuery

# PID paths (as IHE PDQ writes them) -> FHIR Patient search parameters
_SEARCH = {
    "PID.5": "family",
    "PID.5.1": "family",
    "PID.5.1.1": "family",
    "PID.5.2": "given",
    "PID.7": "birthdate",
    "PID.7.1": "birthdate",
    "PID.8": "gender",
    "PID.11": "address",
    "PID.11.1": "address",
    "PID.11.1.1": "address",
    "PID.11.3": "address-city",
    "PID.11.4": "address-state",
    "PID.11.5": "address-postalcode",
    "PID.11.6": "address-country",
    "PID.13": "phone",
    "PID.13.1": "phone",
    "PID.13.12": "phone",
}
_GENDER = {"M": "male", "F": "female", "O": "other", "U": "unknown", "1": "male", "2": "female"}
_IDENTIFIER_PARTS = ("PID.3", "PID.3.1", "PID.3.4", "PID.3.4.1", "PID.3.4.2", "PID.3.5")


def target_system(rep: Repetition, ctx: Context) -> str:
    """A "what domains returned" CX (only CX.4 filled): the system it names, "" when unknown."""
    assigner, oid, kind = rep.subcomponent(4, 1), rep.subcomponent(4, 2), rep.subcomponent(4, 3)
    system = resolve_system(rep.component(5), assigner, ctx.profile, oid, kind)
    if not system and assigner:
        try:
            system = ctx.profile.systems.hospital_patient_number(assigner)
        except ValueError:
            return ""
    return system


def _targets(field_reps: tuple[Repetition, ...], where: str, ctx: Context) -> tuple[str, ...]:
    out = []
    for index, rep in enumerate(field_reps, 1):
        system = target_system(rep, ctx)
        if system:
            out.append(system)
        elif not rep.is_empty:
            ctx.issue(f"{where}[{index}]", "the domain names no identifier system")
    return tuple(out)


def pix_query(qpd: Segment, where: str, ctx: Context) -> PixQuery:
    source, problem = identifier(qpd.field(3).repetition(), ctx.profile)
    if problem:
        ctx.issue(f"{where}-3", problem)
    if source is None:
        ctx.issue(f"{where}-3", "no source identifier")
    targets = _targets(qpd.field(4).repetitions, f"{where}-4", ctx)
    ctx.account(qpd, where, (1, 2, 3, 4))
    return PixQuery(qpd.value(2), source or {}, targets)


def pdq_query(qpd: Segment, where: str, limit: int | None, ctx: Context) -> PdqQuery:
    parameters: list[tuple[str, str]] = []
    search: list[tuple[str, str]] = []
    id_parts: dict[str, str] = {}
    for index, rep in enumerate(qpd.field(3), 1):
        path, value = rep.component(1).lstrip("@"), rep.component(2)
        if not path or not value:
            continue
        parameters.append((path, value))
        if path in _IDENTIFIER_PARTS:
            id_parts[path] = value
        elif path in _SEARCH:
            search.append(_search_value(_SEARCH[path], value))
        else:
            ctx.issue(f"{where}-3[{index}]", f"no FHIR search parameter for {path}")
    if id_parts:
        search.append(_identifier_search(id_parts, ctx))
    targets = _targets(qpd.field(8).repetitions, f"{where}-8", ctx)
    ctx.account(qpd, where, (1, 2, 3, 8))
    return PdqQuery(qpd.value(2), tuple(parameters), tuple(search), targets, limit)


def _search_value(param: str, value: str) -> tuple[str, str]:
    if param == "gender":
        return param, _GENDER.get(value.upper(), value)
    if param == "birthdate":
        return param, date(value) or value
    return param, value


def _identifier_search(parts: dict[str, str], ctx: Context) -> tuple[str, str]:
    value = parts.get("PID.3.1") or parts.get("PID.3", "")
    assigner = parts.get("PID.3.4.1") or parts.get("PID.3.4", "")
    oid = parts.get("PID.3.4.2", "")
    system = resolve_system(parts.get("PID.3.5", ""), assigner, ctx.profile, oid, "ISO" if oid else "")
    if not system and assigner:
        try:
            system = ctx.profile.systems.hospital_patient_number(assigner)
        except ValueError:
            system = ""
    return "identifier", f"{system}|{value}" if system else value


def limit_from_rcp(rcp: Segment, where: str, ctx: Context) -> int | None:
    """RCP-2 quantity limited request (CQ: amount ^ RD for records)."""
    ctx.account(rcp, where, (1, 2))
    amount = rcp.value(2)
    return int(amount) if amount.isdigit() else None
