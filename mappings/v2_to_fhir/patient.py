"""PID (+ PD1, NK1) -> Patient, following the V2-to-FHIR IG (PID[Patient], PD1[Patient], NK1[Patient])."""

from __future__ import annotations

from mappings.codes import ethnicities, ethnicities_by_letter, fhir_gender_for_sex, sex_codes
from mappings.hl7v2 import Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import (
    Json,
    codeable_concept,
    date,
    date_time,
    xcn_reference,
    xon_reference,
)
from mappings.v2_to_fhir.demographics import address, contact_point, human_name
from mappings.v2_to_fhir.identifiers import identifier
from mappings.v2_to_fhir.systems import (
    EXT_ETHNICITY,
    EXT_SEX_GBT2261,
    GB3304_LETTER,
    GB3304_NUMERIC,
    GBT2261_SEX,
    V2_MARITAL_STATUS,
)

PID_MAPPED = frozenset({1, 2, 3, 4, 5, 7, 8, 11, 13, 14, 16, 19, 22, 24, 25, 29, 30})
PD1_MAPPED = frozenset({3, 4})
NK1_MAPPED = frozenset({1, 2, 3, 4, 5, 6, 7})

# HL7 table 0001 (administrative sex) -> FHIR gender
_V2_SEX = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}


def patient_from_pid(pid: Segment, where: str, ctx: Context) -> Json:
    patient: Json = {"resourceType": "Patient"}
    extensions: list[Json] = []
    identifiers = pid_identifiers(pid, where, ctx)
    if identifiers:
        patient["identifier"] = identifiers
    names = [n for n in map(human_name, pid.field(5)) if n]
    if names:
        patient["name"] = names
    telecom = [c for c in map(contact_point, pid.field(13)) if c]
    telecom += [c for c in (contact_point(r, "work") for r in pid.field(14)) if c]
    if telecom:
        patient["telecom"] = telecom
    _gender(pid.value(8), patient, f"{where}-8", ctx)
    if pid.value(7):
        birth = date(pid.value(7)[:8])
        if birth:
            patient["birthDate"] = birth
        else:
            ctx.issue(f"{where}-7", "not a date")
    _deceased(pid, patient, where, ctx)
    addresses = [a for a in map(address, pid.field(11)) if a]
    if addresses:
        patient["address"] = addresses
    marital = codeable_concept(pid.field(16).repetition(), ctx.profile)
    if marital and "coding" in marital and "system" not in marital["coding"][0]:
        marital["coding"][0]["system"] = V2_MARITAL_STATUS
    if marital:
        patient["maritalStatus"] = marital
    _multiple_birth(pid, patient)
    for rep in pid.field(22):
        ext = ethnicity_extension(rep.component(1), rep.component(2))
        if ext:
            extensions.append(ext)
        elif rep.component(1):
            ctx.issue(f"{where}-22", f"ethnicity {rep.component(1)!r} is not a GB 3304 code")
    gb_sex = _gb_sex_extension(pid.value(8))
    if gb_sex:
        extensions.append(gb_sex)
    if extensions:
        patient["extension"] = extensions
    patient["active"] = True
    ctx.account(pid, where, PID_MAPPED)
    return _ordered(patient)


def pid_identifiers(pid: Segment, where: str, ctx: Context) -> list[Json]:
    """PID-3 (and the retired PID-2, PID-4, PID-19 SSN) as FHIR identifiers."""
    out: list[Json] = []
    for number in (3, 2, 4):
        for index, rep in enumerate(pid.field(number), 1):
            ident, problem = identifier(rep, ctx.profile)
            if ident:
                out.append(ident)
            if problem:
                ctx.issue(f"{where}-{number}[{index}]", problem)
    ssn = pid.value(19)
    if ssn:
        out.append(
            {"type": {"coding": [{"system": _V2_0203, "code": "SS"}]}, "system": _ssn(ctx), "value": ssn}
        )
    return _unique(out)


_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _ssn(ctx: Context) -> str:
    return ctx.profile.systems.system("ssn")


def _unique(identifiers: list[Json]) -> list[Json]:
    seen: set[tuple[str, str]] = set()
    out = []
    for ident in identifiers:
        key = (ident.get("system", ""), ident["value"])
        if key not in seen:
            seen.add(key)
            out.append(ident)
    return out


def _gender(code: str, patient: Json, where: str, ctx: Context) -> None:
    if not code:
        return
    gender = _V2_SEX.get(code.upper())
    if gender is None and code in sex_codes():
        gender = fhir_gender_for_sex(code)  # GB/T 2261.1, as some Chinese HIS send
    if gender is None:
        ctx.issue(where, f"sex {code!r} is neither HL7 table 0001 nor GB/T 2261.1")
        return
    patient["gender"] = gender


def _gb_sex_extension(code: str) -> Json | None:
    # Keep the GB/T 2261.1 code when that is what was sent (9 "unspecified" and 0 differ in meaning).
    if code not in sex_codes():
        return None
    sex = sex_codes()[code]
    return {
        "url": EXT_SEX_GBT2261,
        "valueCoding": {"system": GBT2261_SEX, "code": sex.code, "display": sex.name},
    }


def ethnicity_extension(code: str, text: str = "") -> Json | None:
    """GB 3304 in the numeric (01) or the letter form (HA): both codings are given when both exist."""
    code = code.strip()
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    entry = ethnicities().get(code) or ethnicities_by_letter().get(code.upper())
    if entry is None:
        return None
    codings = [{"system": GB3304_NUMERIC, "code": entry.numeric, "display": entry.name}]
    if entry.letter:
        codings.append({"system": GB3304_LETTER, "code": entry.letter, "display": entry.name})
    concept: Json = {"coding": codings, "text": text or entry.name}
    return {"url": EXT_ETHNICITY, "valueCodeableConcept": concept}


def _deceased(pid: Segment, patient: Json, where: str, ctx: Context) -> None:
    when = pid.value(29)
    if when:
        value = date_time(when, ctx.profile)
        if value:
            patient["deceasedDateTime"] = value
            return
        ctx.issue(f"{where}-29", "not a date/time")
    if pid.value(30) in ("Y", "N"):
        patient["deceasedBoolean"] = pid.value(30) == "Y"


def _multiple_birth(pid: Segment, patient: Json) -> None:
    order = pid.value(25)
    if order.isdigit():
        patient["multipleBirthInteger"] = int(order)
    elif pid.value(24) in ("Y", "N"):
        patient["multipleBirthBoolean"] = pid.value(24) == "Y"


def add_pd1(patient: Json, pd1: Segment, where: str, ctx: Context) -> None:
    """PD1-3 primary facility and PD1-4 primary care provider -> generalPractitioner (logical refs)."""
    refs = [r for r in map(xon_reference, pd1.field(3)) if r]
    refs += [r for r in map(xcn_reference, pd1.field(4)) if r]
    if refs:
        patient.setdefault("generalPractitioner", []).extend(refs)
    ctx.account(pd1, where, PD1_MAPPED)


def add_nk1(patient: Json, nk1: Segment, where: str, ctx: Context) -> None:
    contact: Json = {}
    relationship = [c for c in (codeable_concept(r, ctx.profile) for r in nk1.field(3)) if c]
    relationship += [c for c in (codeable_concept(r, ctx.profile) for r in nk1.field(7)) if c]
    if relationship:
        contact["relationship"] = relationship
    name = human_name(nk1.field(2).repetition())
    if name:
        contact["name"] = name
    telecom = [c for c in map(contact_point, nk1.field(5)) if c]
    telecom += [c for c in (contact_point(r, "work") for r in nk1.field(6)) if c]
    if telecom:
        contact["telecom"] = telecom
    addr = address(nk1.field(4).repetition())
    if addr:
        contact["address"] = addr
    if contact:
        patient.setdefault("contact", []).append(contact)
    ctx.account(nk1, where, NK1_MAPPED)


_ORDER = ("resourceType", "extension", "identifier", "active", "name", "telecom", "gender", "birthDate")


def _ordered(resource: Json) -> Json:
    # FHIR's element order, so golden files and dumps read naturally.
    head = {k: resource[k] for k in _ORDER if k in resource}
    return head | {k: v for k, v in resource.items() if k not in head}
