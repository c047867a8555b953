"""Patient -> PID, PD1, NK1; Encounter -> PV1, PV2; Coverage -> IN1 (inverse of mappings.v2_to_fhir)."""

from __future__ import annotations

from mappings.codes import ethnicities
from mappings.fhir_to_v2.datatypes import Json, ce, cx, dtm, xad, xcn, xon, xpn, xtn
from mappings.hl7v2 import FieldValue
from mappings.v2_to_fhir.profile import SenderProfile
from mappings.v2_to_fhir.systems import EXT_ETHNICITY, EXT_SEX_GBT2261, GB3304_NUMERIC, V3_ACT_CODE

Fields = dict[int, FieldValue]

_SEX = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
_CLASS = {"IMP": "I", "AMB": "O", "EMER": "E", "PRENC": "P"}
_PARTICIPANT_FIELD = {"ATND": 7, "REF": 8, "CON": 9, "ADM": 17}
_VISIT_NUMBER = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "VN"}]}
_RELATIONSHIP = {
    "self": "SEL",
    "spouse": "SPO",
    "child": "CHD",
    "parent": "PAR",
    "common": "DOM",
    "other": "OTH",
}


def _reps(
    values: list[tuple[str | tuple[str, ...], ...] | None],
) -> list[str | tuple[str | tuple[str, ...], ...]]:
    return [v for v in values if v is not None]


def _extension(resource: Json, url: str) -> Json | None:
    return next((e for e in resource.get("extension", []) if e.get("url") == url), None)


def pid(patient: Json, profile: SenderProfile) -> Fields:
    telecom = patient.get("telecom", [])
    fields: Fields = {
        1: "1",
        3: _reps([cx(i, profile) for i in patient.get("identifier", [])]),
        5: _reps([xpn(n) for n in patient.get("name", [])]),
        7: dtm(patient.get("birthDate", "")),
        8: _sex(patient),
        11: _reps([xad(a) for a in patient.get("address", [])]),
        13: _reps([xtn(t) for t in telecom if t.get("use") != "work"]),
        14: _reps([xtn(t) for t in telecom if t.get("use") == "work"]),
        16: ce(patient.get("maritalStatus")),
        22: _ethnicity(patient, profile),
    }
    if "multipleBirthInteger" in patient:
        fields[24], fields[25] = "Y", str(patient["multipleBirthInteger"])
    elif "multipleBirthBoolean" in patient:
        fields[24] = "Y" if patient["multipleBirthBoolean"] else "N"
    if "deceasedDateTime" in patient:
        fields[29], fields[30] = dtm(patient["deceasedDateTime"]), "Y"
    elif "deceasedBoolean" in patient:
        fields[30] = "Y" if patient["deceasedBoolean"] else "N"
    return fields


def _sex(patient: Json) -> str:
    # The GB/T 2261.1 code goes back when that is what the sender used (it rides in our extension).
    gb = _extension(patient, EXT_SEX_GBT2261)
    if gb:
        return str(gb["valueCoding"]["code"])
    return _SEX.get(patient.get("gender", ""), "")


def _ethnicity(patient: Json, profile: SenderProfile) -> FieldValue:
    ext = _extension(patient, EXT_ETHNICITY)
    if not ext:
        return None
    concept = ext["valueCodeableConcept"]
    numeric = next((c["code"] for c in concept.get("coding", []) if c.get("system") == GB3304_NUMERIC), "")
    if not numeric:
        return None
    entry = ethnicities()[numeric]
    code = entry.letter if profile.ethnicity_form == "letter" and entry.letter else entry.numeric
    return (code, concept.get("text", entry.name))


def pd1(patient: Json) -> Fields | None:
    practitioners = patient.get("generalPractitioner", [])
    orgs = _reps([xon(r) for r in practitioners if r.get("type") == "Organization"])
    people = _reps([xcn(r) for r in practitioners if r.get("type") != "Organization"])
    return {3: orgs, 4: people} if orgs or people else None


def nk1s(patient: Json) -> list[Fields]:
    out = []
    for number, contact in enumerate(patient.get("contact", []), 1):
        relationships = [ce(r) for r in contact.get("relationship", [])]
        telecom = contact.get("telecom", [])
        address = contact.get("address")
        name = contact.get("name")
        out.append(
            {
                1: str(number),
                2: xpn(name) if name else None,
                3: relationships[0] if relationships else None,
                4: xad(address) if address else None,
                5: _reps([xtn(t) for t in telecom if t.get("use") != "work"]),
                6: _reps([xtn(t) for t in telecom if t.get("use") == "work"]),
                7: relationships[1] if len(relationships) > 1 else None,
            }
        )
    return out


def pv1(encounter: Json | None, profile: SenderProfile) -> Fields:
    """PV1 of an encounter; without one, the "no visit" PV1 (class N) that ADT structures require."""
    if encounter is None:
        return {1: "1", 2: "N"}
    klass = encounter.get("class", {})
    fields: Fields = {
        1: "1",
        2: _CLASS.get(klass.get("code", ""), "") if klass.get("system") == V3_ACT_CODE else "",
    }
    locations: list[Json] = encounter.get("location", [])
    location = locations[0].get("location", {}).get("display", "") if locations else ""
    if location:
        fields[3] = ("", "", "", "", "", "", "", "", location)  # PL.9: location description
    types = [ce(t) for t in encounter.get("type", [])]
    if len(types) > 1:
        fields[4], fields[18] = types[0], types[1]
    elif types:
        fields[18] = types[0]
    fields[10] = ce(encounter.get("serviceType"))
    for participant in encounter.get("participant", []):
        codes = [c.get("code") for t in participant.get("type", []) for c in t.get("coding", [])]
        number = next((_PARTICIPANT_FIELD[c] for c in codes if c in _PARTICIPANT_FIELD), None)
        person = xcn(participant.get("individual", {}))
        if number and person:
            existing = fields.get(number)
            fields[number] = [*existing, person] if isinstance(existing, list) else [person]
    # A visit number with no type of its own is written as one (VN, HL7 table 0203).
    identifiers = [i if "type" in i else {"type": _VISIT_NUMBER} | i for i in encounter.get("identifier", [])]
    if identifiers:
        fields[19] = cx(identifiers[0], profile)
    if len(identifiers) > 1:
        fields[50] = cx(identifiers[1], profile)
    hospitalization = encounter.get("hospitalization", {})
    fields[14] = ce(hospitalization.get("admitSource"))
    fields[36] = ce(hospitalization.get("dischargeDisposition"))
    period = encounter.get("period", {})
    fields[44], fields[45] = dtm(period.get("start", "")), dtm(period.get("end", ""))
    return fields


def pv2(encounter: Json | None) -> Fields | None:
    reasons = (encounter or {}).get("reasonCode", [])
    return {3: ce(reasons[0])} if reasons else None


def in1(coverage: Json, number: int, patient: Json, profile: SenderProfile) -> Fields:
    payors: list[Json] = coverage.get("payor", [])
    payor = payors[0] if payors else {}
    relations: list[Json] = coverage.get("relationship", {}).get("coding", [])
    relation = relations[0].get("code", "") if relations else ""
    group = next((c.get("value", "") for c in coverage.get("class", [])), "")
    period = coverage.get("period", {})
    fields: Fields = {
        1: str(number),
        2: ce(coverage.get("type")),
        3: cx(payor["identifier"], profile) if "identifier" in payor else None,
        4: payor.get("display", ""),
        8: group,
        12: dtm(period.get("start", "")),
        13: dtm(period.get("end", "")),
        17: _RELATIONSHIP.get(relation, ""),
        36: coverage.get("subscriberId", ""),
    }
    if relation == "self":  # the insured is the patient: name and birth date repeat the PID's
        names = patient.get("name", [])
        fields[16] = xpn(names[0]) if names else None
        fields[18] = dtm(patient.get("birthDate", ""))
    return fields
