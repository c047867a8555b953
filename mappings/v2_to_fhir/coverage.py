"""IN1 -> Coverage, following the V2-to-FHIR IG (IN1[Coverage])."""

from __future__ import annotations

from mappings.hl7v2 import Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import Json, codeable_concept, date, xon_reference
from mappings.v2_to_fhir.identifiers import identifier
from mappings.v2_to_fhir.systems import DATA_ABSENT_REASON, TERMINOLOGY

IN1_MAPPED = frozenset({1, 2, 3, 4, 8, 12, 13, 15, 16, 17, 18, 36})
_RELATIONSHIP = TERMINOLOGY + "subscriber-relationship"
# HL7 table 0063 (relationship) -> FHIR subscriber relationship
_RELATIONSHIPS = {
    "SEL": "self",
    "SPO": "spouse",
    "CHD": "child",
    "PAR": "parent",
    "DOM": "common",
    "OTH": "other",
}


def coverage_from_in1(in1: Segment, where: str, beneficiary: str, ctx: Context) -> Json:
    coverage: Json = {"resourceType": "Coverage"}
    policy = in1.value(36)
    if policy:
        coverage["identifier"] = [{"value": policy}]
        coverage["subscriberId"] = policy
    coverage["status"] = "active"
    kind = codeable_concept(in1.field(2).repetition(), ctx.profile) or codeable_concept(
        in1.field(15).repetition(), ctx.profile
    )
    if kind:
        coverage["type"] = kind
    relation = in1.value(17)
    if relation == "SEL":
        coverage["subscriber"] = {"reference": beneficiary}
    coverage["beneficiary"] = {"reference": beneficiary}
    if relation in _RELATIONSHIPS:
        coverage["relationship"] = {"coding": [{"system": _RELATIONSHIP, "code": _RELATIONSHIPS[relation]}]}
    elif relation:
        ctx.issue(f"{where}-17", f"relationship {relation!r} has no FHIR subscriber relationship")
    period = {k: v for k, v in (("start", date(in1.value(12))), ("end", date(in1.value(13)))) if v}
    if period:
        coverage["period"] = period
    coverage["payor"] = [_payor(in1, ctx)]
    if in1.value(8):
        group = {"coding": [{"system": TERMINOLOGY + "coverage-class", "code": "group"}]}
        coverage["class"] = [{"type": group, "value": in1.value(8)}]
    # The insured's name and birth date repeat the patient's only when the patient is the insured.
    ctx.account(in1, where, IN1_MAPPED if relation == "SEL" else IN1_MAPPED - {16, 18})
    return coverage


def _payor(in1: Segment, ctx: Context) -> Json:
    # Coverage.payor is required: the insurer's identifier and name, else "unknown" said explicitly.
    ref: Json = {}
    ident, _ = identifier(in1.field(3).repetition(), ctx.profile)
    if ident:
        ref["identifier"] = ident
    org = xon_reference(in1.field(4).repetition())
    if org and "display" in org:
        ref["display"] = org["display"]
    if not ref:
        ref["extension"] = [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]
    return ref
