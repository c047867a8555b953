"""FHIR data types -> v2 data types (the inverse of mappings.v2_to_fhir.datatypes/demographics).

Values come back as `mappings.hl7v2.build` field values (tuples of components), so escaping is the
builder's job. Each inverse is written so that mapping its output back gives the same FHIR.
"""

from __future__ import annotations

import re
from typing import Any

from mappings.codes import IdentifierKey
from mappings.hl7v2 import Components
from mappings.v2_to_fhir.identifiers import TABLE_0203, resolve_system
from mappings.v2_to_fhir.profile import SenderProfile
from mappings.v2_to_fhir.systems import CODING_SYSTEMS, LOCAL_CODE_SYSTEM, TERMINOLOGY

Json = dict[str, Any]

_NAME_USE = {"official": "L", "usual": "D", "maiden": "M", "nickname": "N", "old": "C"}
_ADDRESS_USE = {"home": "H", "work": "B", "temp": "C", "old": "BA"}
_TELECOM_EQUIPMENT = {"phone": "PH", "fax": "FX", "pager": "BP", "email": "Internet"}
_TELECOM_USE = {"home": "PRN", "work": "WPN", "mobile": "PRN"}
# An identifier key -> CX.5 when the FHIR identifier carries no type (cards, the patient index).
_TYPE_FOR_KEY = {
    IdentifierKey.ID_NUMBER: "NNCHN",
    IdentifierKey.SSN: "SS",
    IdentifierKey.HEALTH_CARD_NUMBER: "HC",
    IdentifierKey.SSC_CARD_NUMBER: "MedCard",
    IdentifierKey.HOSPITAL_PATIENT_NUMBER: "MR",
    IdentifierKey.MEDICAL_RECORD_NUMBER: "MR",
}
_V2_TABLE = re.compile(re.escape(TERMINOLOGY) + r"v2-(\d{4})")


def dtm(value: str) -> str:
    """FHIR date/dateTime/instant -> v2 DTM at the same precision ("+08:00" -> "+0800")."""
    found = re.fullmatch(
        r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?",
        value,
    )
    if not found:
        return ""
    y, mo, d, h, mi, s, frac, tz = found.groups()
    out = y + (mo or "") + (d or "")
    if h:
        out += h + mi + (s or "") + (frac or "")
        if tz:
            out += "+0000" if tz == "Z" else tz.replace(":", "")
    return out


def coding_system_name(system: str) -> str:
    """A FHIR system URI -> the v2 coding system name (CE.3): HL7 tables, known names, else the URI."""
    table = _V2_TABLE.fullmatch(system)
    if table:
        return f"HL7{table.group(1)}"
    if system.startswith(LOCAL_CODE_SYSTEM):
        return system[len(LOCAL_CODE_SYSTEM) :]
    for name, uri in CODING_SYSTEMS.items():
        if uri == system:
            return name
    return system


def ce(concept: Json | None) -> Components | None:
    """CodeableConcept -> CE/CWE: first coding, second coding, text in CWE.9."""
    if not concept:
        return None
    parts: list[str] = []
    codings = concept.get("coding", [])[:2]
    for coding in codings:
        system = coding.get("system", "")
        parts += [
            coding.get("code", ""),
            coding.get("display", ""),
            coding_system_name(system) if system else "",
        ]
    text = concept.get("text", "")
    if not codings:
        return ("", text) if text else None
    if text:
        parts += [""] * (8 - len(parts)) + [text]
    return tuple(parts)


def cx(ident: Json, profile: SenderProfile) -> Components | None:
    """Identifier -> CX: value, CX.4 assigner, CX.5 type. When type and assigner alone would not lead
    back to the same system (by the same table), the system rides along in CX.4.2/CX.4.3."""
    value = ident.get("value", "")
    if not value:
        return None
    system = ident.get("system", "")
    codings = ident.get("type", {}).get("coding", [])
    key = profile.systems.key_for(system) if system else None
    type_code = codings[0].get("code", "") if codings else _TYPE_FOR_KEY.get(key, "") if key else ""
    assigner = ident.get("assigner", {}).get("display", "") or (
        profile.systems.hospital_code_for(system) or ""
    )
    hd: str | tuple[str, ...] = assigner
    if system and resolve_system(type_code, assigner, profile) != system:
        hd = (assigner, system[8:], "ISO") if system.startswith("urn:oid:") else (assigner, system, "URI")
    period = ident.get("period", {})
    return (value, "", "", hd, type_code, "", dtm(period.get("start", "")), dtm(period.get("end", "")))


def xpn(name: Json) -> Components | None:
    given = name.get("given", [])
    family = name.get("family", "")
    if not family and not given:
        return None
    suffix, prefix = name.get("suffix", [""])[0], name.get("prefix", [""])[0]
    second = " ".join(given[1:])
    return (
        family,
        given[0] if given else "",
        second,
        suffix,
        prefix,
        "",
        _NAME_USE.get(name.get("use", ""), ""),
    )


def xad(addr: Json) -> Components | None:
    lines = addr.get("line", [])
    parts = (
        lines[0] if lines else "",
        " ".join(lines[1:]),
        addr.get("city", ""),
        addr.get("state", ""),
        addr.get("postalCode", ""),
        addr.get("country", ""),
        _ADDRESS_USE.get(addr.get("use", ""), ""),
        "",
        addr.get("district", ""),
    )
    return parts if any(parts) else None


def xtn(point: Json) -> Components | None:
    value, system, use = point.get("value", ""), point.get("system", "phone"), point.get("use", "")
    if not value:
        return None
    if system == "email":
        return ("", "NET", "Internet", value)
    equipment = "CP" if use == "mobile" else _TELECOM_EQUIPMENT.get(system, "PH")
    return ("", _TELECOM_USE.get(use, ""), equipment, "", "", "", "", "", "", "", "", value)


def xcn(ref: Json) -> Components | None:
    """A logical Reference to a person -> XCN: identifier, the display as the family name."""
    ident, display = ref.get("identifier", {}).get("value", ""), ref.get("display", "")
    return (ident, display) if ident or display else None


def xon(ref: Json) -> Components | None:
    ident, display = ref.get("identifier", {}).get("value", ""), ref.get("display", "")
    return (display, "", ident) if ident or display else None


def is_table_0203(code: str) -> bool:
    return code in TABLE_0203
