"""Value paths: ``PID-3[2].4.1`` (segment, occurrence, field, repetition, component, subcomponent).

The dotted form ``PID.3.4`` (IHE PDQ query parameters, python-hl7) is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mappings.hl7v2.errors import Hl7ParseError

_PATH = re.compile(
    r"(?P<seg>[A-Z][A-Z0-9]{2})(?:\[(?P<occ>\d+)\])?"
    r"(?:[-.](?P<field>\d+)(?:\[(?P<rep>\d+)\])?(?:\.(?P<comp>\d+)(?:\.(?P<sub>\d+))?)?)?"
)


@dataclass(frozen=True, slots=True)
class Path:
    segment: str
    occurrence: int = 1
    field: int | None = None
    repetition: int = 1
    component: int | None = None
    subcomponent: int | None = None


@lru_cache(maxsize=1024)
def parse_path(text: str) -> Path:
    found = _PATH.fullmatch(text.strip())
    if not found:
        raise Hl7ParseError("path", f"not an HL7 value path: {text!r}")

    def number(name: str) -> int | None:
        value = found.group(name)
        return None if value is None else int(value)

    return Path(
        segment=found.group("seg"),
        occurrence=number("occ") or 1,
        field=number("field"),
        repetition=number("rep") or 1,
        component=number("comp"),
        subcomponent=number("sub"),
    )
