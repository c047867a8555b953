"""XPN -> HumanName, XAD -> Address, XTN -> ContactPoint (HL7 V2-to-FHIR IG data type maps)."""

from __future__ import annotations

from mappings.hl7v2 import Repetition
from mappings.v2_to_fhir.datatypes import Json, is_cjk

# HL7 table 0200 (name type) -> FHIR name use
_NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "usual", "C": "old"}
# HL7 table 0190 (address type) -> FHIR address use
_ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old", "M": "home", "P": "home"}
# HL7 table 0201 (telecom use) -> FHIR contact point use
_TELECOM_USE = {"PRN": "home", "ORN": "home", "VHN": "home", "WPN": "work", "NET": None, "EMR": None}
# HL7 table 0202 (equipment type) -> FHIR contact point system
_TELECOM_SYSTEM = {
    "PH": "phone",
    "CP": "phone",
    "FX": "fax",
    "BP": "pager",
    "Internet": "email",
    "X.400": "email",
}


def human_name(rep: Repetition) -> Json | None:
    family = rep.component(1) if rep.component(1).strip() else ""
    given = [g for g in (rep.component(2), rep.component(3)) if g.strip()]
    if not family and not given:
        return None
    out: Json = {}
    use = _NAME_USE.get(rep.component(7))
    if use:
        out["use"] = use
    whole = family + "".join(given)
    # Chinese names are written surname first without spaces; FHIR's text carries that form.
    out["text"] = whole if is_cjk(whole) else " ".join(p.strip() for p in (*given, family) if p.strip())
    if family:
        out["family"] = family
    if given:
        out["given"] = given
    if rep.component(4):
        out["suffix"] = [rep.component(4)]
    if rep.component(5):
        out["prefix"] = [rep.component(5)]
    return out


def address(rep: Repetition) -> Json | None:
    lines = [line for line in (rep.component(1), rep.component(2)) if line]
    parts = {
        "city": rep.component(3),
        "district": rep.component(9),  # county/parish code: in China the GB/T 2260 code as sent
        "state": rep.component(4),
        "postalCode": rep.component(5),
        "country": rep.component(6),
    }
    if not lines and not any(parts.values()):
        return None
    out: Json = {}
    use = _ADDRESS_USE.get(rep.component(7))
    if use:
        out["use"] = use
    if lines:
        out["line"] = lines
    out.update({k: v for k, v in parts.items() if v})
    return out


def contact_point(rep: Repetition, default_use: str | None = None) -> Json | None:
    equipment = rep.component(3)
    system = _TELECOM_SYSTEM.get(equipment, "phone")
    if system == "email":
        value = rep.component(4)
    else:
        area, local = rep.component(6), rep.component(7)
        value = rep.component(12) or (f"{area}-{local}" if area and local else local) or rep.component(1)
    if not value:
        return None
    out: Json = {"system": system, "value": value}
    use = "mobile" if equipment == "CP" else _TELECOM_USE.get(rep.component(2), default_use)
    if use:
        out["use"] = use
    return out
