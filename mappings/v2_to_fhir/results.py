"""OBR -> DiagnosticReport, OBX -> Observation, NTE -> note (V2-to-FHIR IG, ORU^R01).

Values by OBX-2: NM -> valueQuantity (OBX-6 unit), ST/TX/FT -> valueString (repetitions joined
by line breaks), CE/CWE/CNE -> valueCodeableConcept, DT/TS/DTM -> valueDateTime. Another type, or a
value that does not read as its type, is reported, never dropped without a word.
"""

from __future__ import annotations

import re

from mappings.hl7v2 import Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import Json, codeable_concept, date_time, number, quantity, xcn_reference
from mappings.v2_to_fhir.systems import DATA_ABSENT_REASON, V3_INTERPRETATION

OBR_MAPPED = frozenset({1, 2, 3, 4, 7, 16, 22, 25})
OBX_MAPPED = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 11, 14, 16})
NTE_MAPPED = frozenset({1, 3})

# HL7 table 0123 (result status) -> DiagnosticReport.status
_REPORT_STATUS = {"O": "registered", "I": "registered", "S": "registered", "P": "preliminary", "A": "partial"}
_REPORT_STATUS |= {"R": "preliminary", "C": "corrected", "F": "final", "X": "cancelled"}
# HL7 table 0085 (observation result status) -> Observation.status
_OBS_STATUS = {"F": "final", "P": "preliminary", "R": "preliminary", "C": "corrected", "X": "cancelled"}
_OBS_STATUS |= {"D": "entered-in-error", "W": "entered-in-error", "I": "registered", "S": "preliminary"}
_RANGE = re.compile(r"\s*(?P<low>[+-]?\d+(?:\.\d+)?)\s*[-~–]\s*(?P<high>[+-]?\d+(?:\.\d+)?)\s*")
_BOUND = re.compile(r"\s*(?P<op>[<>]=?|≤|≥)\s*(?P<value>[+-]?\d+(?:\.\d+)?)\s*")
_ABSENT = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}


def report_from_obr(obr: Segment, where: str, subject: str, encounter: str | None, ctx: Context) -> Json:
    report: Json = {"resourceType": "DiagnosticReport"}
    idents = []
    for number_, type_code in ((2, "PLAC"), (3, "FILL")):
        if obr.value(number_):
            kind = {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": type_code}]
            }
            idents.append({"type": kind, "value": obr.value(number_)})
    if idents:
        report["identifier"] = idents
    report["status"] = _REPORT_STATUS.get(obr.value(25), "unknown")
    code = codeable_concept(obr.field(4).repetition(), ctx.profile)
    if code is None:
        ctx.issue(f"{where}-4", "no universal service identifier")
    report["code"] = code or _ABSENT
    report["subject"] = {"reference": subject}
    if encounter:
        report["encounter"] = {"reference": encounter}
    observed = date_time(obr.value(7), ctx.profile) if obr.value(7) else None
    if observed:
        report["effectiveDateTime"] = observed
    issued = date_time(obr.value(22), ctx.profile) if obr.value(22) else None
    if issued and "T" in issued:  # an instant needs a time
        report["issued"] = issued
    elif obr.value(22):
        ctx.issue(f"{where}-22", "not a date/time with a time of day")
    ordered_by = xcn_reference(obr.field(16).repetition())
    if ordered_by:
        report["performer"] = [ordered_by]
    ctx.account(obr, where, OBR_MAPPED)
    return report


def observation_from_obx(
    obx: Segment, where: str, subject: str, encounter: str | None, effective: str | None, ctx: Context
) -> Json:
    obs: Json = {"resourceType": "Observation"}
    obs["status"] = _OBS_STATUS.get(obx.value(11), "unknown")
    code = codeable_concept(obx.field(3).repetition(), ctx.profile)
    if code is None:
        ctx.issue(f"{where}-3", "no observation identifier")
    obs["code"] = code or _ABSENT
    obs["subject"] = {"reference": subject}
    if encounter:
        obs["encounter"] = {"reference": encounter}
    when = date_time(obx.value(14), ctx.profile) if obx.value(14) else effective
    if when:
        obs["effectiveDateTime"] = when
    performer = xcn_reference(obx.field(16).repetition())
    if performer:
        obs["performer"] = [performer]
    _value(obx, where, obs, ctx)
    flags = [flag.value.strip() for flag in obx.field(8) if flag.value.strip()]
    if flags:
        obs["interpretation"] = [{"coding": [{"system": V3_INTERPRETATION, "code": f}]} for f in flags]
    ranges = _reference_range(obx)
    if ranges:
        obs["referenceRange"] = [ranges]
    ctx.account(obx, where, OBX_MAPPED)
    return obs


def _value(obx: Segment, where: str, obs: Json, ctx: Context) -> None:
    kind, field = obx.value(2), obx.field(5)
    if field.is_empty:
        return
    if kind == "NM":
        value = quantity(field.value, obx.field(6).repetition(), ctx.profile)
        if value:
            obs["valueQuantity"] = value
        else:
            ctx.issue(f"{where}-5", "NM value is not a number")
        if len(field) > 1:
            ctx.issue(f"{where}-5", "only the first NM repetition is mapped")
    elif kind in ("ST", "TX", "FT"):
        obs["valueString"] = "\n".join(rep.component(1) for rep in field)
    elif kind in ("CE", "CWE", "CNE"):
        concept = codeable_concept(field.repetition(), ctx.profile)
        if concept:
            obs["valueCodeableConcept"] = concept
    elif kind in ("DT", "TS", "DTM"):
        moment = date_time(field.value, ctx.profile)
        if moment:
            obs["valueDateTime"] = moment
        else:
            ctx.issue(f"{where}-5", "not a date/time")
    else:
        ctx.skip(f"{where}-5", f"value type {kind!r} not mapped")


def _reference_range(obx: Segment) -> Json | None:
    text = obx.value(7)
    if not text:
        return None
    unit = obx.field(6).repetition()
    extra: Json = {"unit": unit.component(2) or unit.component(1)} if unit.component(1) else {}
    if unit.component(3).upper() == "UCUM":
        extra |= {"system": "http://unitsofmeasure.org", "code": unit.component(1)}
    found = _RANGE.fullmatch(text)
    if found:
        low, high = number(found.group("low")), number(found.group("high"))
        return {"low": {"value": low} | extra, "high": {"value": high} | extra, "text": text}
    bound = _BOUND.fullmatch(text)
    if bound:
        side = "high" if bound.group("op") in ("<", "<=", "≤") else "low"
        return {side: {"value": number(bound.group("value"))} | extra, "text": text}
    return {"text": text}


def add_note(target: Json, nte: Segment, where: str, ctx: Context) -> None:
    text = "\n".join(rep.component(1) for rep in nte.field(3) if rep.component(1))
    if text and target["resourceType"] == "DiagnosticReport":  # R4 reports have no note
        target["conclusion"] = "\n".join(filter(None, (target.get("conclusion"), text)))
    elif text:
        target.setdefault("note", []).append({"text": text})
    ctx.account(nte, where, NTE_MAPPED)
