"""v2 data types -> FHIR data types (HL7 V2-to-FHIR IG data type maps), as plain JSON dicts.

Each function takes one repetition and returns None when it carries nothing, so callers never
emit empty elements. Text is kept exactly as sent (Chinese included); nothing is transliterated.
"""

from __future__ import annotations

import re
from typing import Any

from mappings.hl7v2 import Repetition
from mappings.v2_to_fhir.profile import SenderProfile
from mappings.v2_to_fhir.systems import CODING_SYSTEMS, LOCAL_CODE_SYSTEM, UCUM

Json = dict[str, Any]

_DTM = re.compile(
    r"(?P<y>\d{4})(?:(?P<mo>\d{2})(?:(?P<d>\d{2})(?:(?P<h>\d{2})(?:(?P<mi>\d{2})(?:(?P<s>\d{2})"
    r"(?P<f>\.\d{1,4})?)?)?)?)?)?(?P<tz>[+-]\d{4})?"
)
_NM = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def coding_system(name: str, profile: SenderProfile) -> str:
    """The FHIR system URI for a v2 coding system name (CE.3)."""
    if name.startswith(("http://", "https://", "urn:")):
        return name
    if name.upper().startswith("HL7") and name[3:].isdigit():
        return f"http://terminology.hl7.org/CodeSystem/v2-{name[3:]}"
    return profile.coding_systems.get(name) or CODING_SYSTEMS.get(name.upper()) or LOCAL_CODE_SYSTEM + name


def coding(rep: Repetition, profile: SenderProfile, first: int = 1) -> Json | None:
    """A Coding from a code/text/system triplet starting at component `first`."""
    # FHIR codes have no leading, trailing or repeated blanks.
    code = " ".join(rep.component(first).split())
    display, system = rep.component(first + 1), rep.component(first + 2).strip()
    if not code:
        return None
    out: Json = {}
    if system:
        out["system"] = coding_system(system, profile)
    out["code"] = code
    if display:
        out["display"] = display
    return out


def codeable_concept(rep: Repetition, profile: SenderProfile) -> Json | None:
    """CE/CWE/CNE: the primary and the alternate triplet; CWE.9 (or a text-only CE.2) as text."""
    codings = [c for c in (coding(rep, profile, 1), coding(rep, profile, 4)) if c]
    text = rep.component(9) or ("" if codings else rep.component(2))
    if not codings and not text:
        return None
    out: Json = {}
    if codings:
        out["coding"] = codings
    if text:
        out["text"] = text
    return out


def date_time(value: str, profile: SenderProfile) -> str | None:
    """DTM/TS -> FHIR dateTime at the precision sent; a time without a zone takes the profile's offset.
    None for text that is not a v2 date/time."""
    found = _DTM.fullmatch(value.strip())
    if not found or not _plausible(found):
        return None
    y, mo, d, h, mi, s, f, tz = found.group("y", "mo", "d", "h", "mi", "s", "f", "tz")
    out = y + (f"-{mo}" if mo else "") + (f"-{d}" if d else "")
    if h is None:
        return out
    if d is None:
        return None
    offset = f"{tz[:3]}:{tz[3:]}" if tz else profile.utc_offset
    return f"{out}T{h}:{mi or '00'}:{s or '00'}{f or ''}{offset}"


def date(value: str) -> str | None:
    """DT (or the date part of a DTM) -> FHIR date."""
    found = _DTM.fullmatch(value.strip())
    if not found or not _plausible(found):
        return None
    y, mo, d = found.group("y", "mo", "d")
    return y + (f"-{mo}" if mo else "") + (f"-{d}" if d else "")


def _plausible(found: re.Match[str]) -> bool:
    mo, d, h, mi, s = (int(found.group(k) or 0) for k in ("mo", "d", "h", "mi", "s"))
    month_ok = found.group("mo") is None or 1 <= mo <= 12
    day_ok = found.group("d") is None or 1 <= d <= 31
    return int(found.group("y")) > 0 and month_ok and day_ok and h < 24 and mi < 60 and s < 60


def number(value: str) -> int | float | None:
    """NM -> a JSON number (int when it has no fraction); None when it is not a number."""
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    # v2 NM: sign, digits, point; no exponent, inf or nan (FHIR decimals could not carry them).
    return float(text) if _NM.fullmatch(text) else None


def quantity(value: str, unit: Repetition | None, profile: SenderProfile) -> Json | None:
    """A number with a CE unit: UCUM units get system and code, others keep the unit text."""
    amount = number(value)
    if amount is None:
        return None
    out: Json = {"value": amount}
    if unit is not None:
        code, text, system = " ".join(unit.component(1).split()), unit.component(2), unit.component(3).strip()
        if (text or code).strip():
            out["unit"] = text or code
        if system and code:
            out["system"] = UCUM if system.upper() == "UCUM" else coding_system(system, profile)
            out["code"] = code
    return out


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def xcn_reference(rep: Repetition) -> Json | None:
    """XCN (a person) -> a logical Reference: the ID as identifier, the name as display."""
    ident, family, given = rep.component(1), rep.component(2), rep.component(3)
    name = family + given if is_cjk(family + given) else " ".join(p for p in (given, family) if p)
    if not ident and not name:
        return None
    out: Json = {"type": "Practitioner"}
    if ident:
        out["identifier"] = {"value": ident}
    if name:
        out["display"] = name
    return out


def xon_reference(rep: Repetition) -> Json | None:
    """XON (an organisation) -> a logical Reference: XON.3 (or XON.10) as identifier, XON.1 as display."""
    name, ident = rep.component(1), rep.component(3) or rep.component(10)
    if not name and not ident:
        return None
    out: Json = {"type": "Organization"}
    if ident:
        out["identifier"] = {"value": ident}
    if name:
        out["display"] = name
    return out
