"""Per-vendor HL7 v2 quirks as data: one TOML file per profile in this folder (see docs/connectors.md).

A destination names its profile; the MLLP connector renders with it. Nothing vendor-specific lives in
code: which trigger event each topic becomes, local CX.5 type codes, fields copied to where an older
HIS reads them, and Z-segments.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

PROFILE_DIR = Path(__file__).resolve().parent
DEFAULT_EVENTS: Mapping[str, str] = MappingProxyType(
    {
        "patient.created": "A04",
        "patient.updated": "A08",
        "patient.identifier-linked": "A08",
        "patient.local-number-assigned": "A08",
        "patient.merged": "A40",
        "patient.unmerged": "A08",
        "payment.charged": "P03",  # DFT^P03
        "settlement.paid": "P03",
        "pharmacy.dispensed": "O13",  # RDS^O13
        "sampling.tube-closed": "O21",  # OML^O21, one per tube member
    }
)
# Values a Z-segment field may take: names, never free text from the profile author's imagination.
Z_FIELD_SOURCES = frozenset({"event.id", "event.topic", "hospital", "patient.id", "occurred_at"})


@dataclass(frozen=True, slots=True)
class FieldCopy:
    """Copy one field's wire text to another position of the same segment, e.g. PID-3 -> PID-2."""

    segment: str
    source: int
    target: int


@dataclass(frozen=True, slots=True)
class ZSegment:
    name: str
    fields: tuple[str, ...]  # each one of Z_FIELD_SOURCES, or "" for an empty field


@dataclass(frozen=True, slots=True)
class VendorProfile:
    name: str
    description: str = ""
    sending_application: str = "DUALCODE"
    receiving_application: str = ""
    events: Mapping[str, str] = field(default_factory=lambda: DEFAULT_EVENTS)
    identifier_type_codes: Mapping[str, str] = field(default_factory=dict)  # CX.5 standard -> local
    copy_fields: tuple[FieldCopy, ...] = ()
    z_segments: tuple[ZSegment, ...] = ()
    msh18: str | None = None  # MSH-18 as the HIS wants it; None = from the encoding


class ProfileError(ValueError):
    pass


def available_profiles() -> list[str]:
    return sorted(path.stem for path in PROFILE_DIR.glob("*.toml"))


@cache
def load_profile(name: str) -> VendorProfile:
    path = PROFILE_DIR / f"{name}.toml"
    if not name.replace("_", "").replace("-", "").isalnum() or not path.is_file():
        raise ProfileError(f"no HL7 profile {name!r}; known: {', '.join(available_profiles())}")
    with path.open("rb") as handle:
        return parse_profile(name, tomllib.load(handle))


def parse_profile(name: str, data: Mapping[str, Any]) -> VendorProfile:
    known = {"description", "sending_application", "receiving_application", "events",
             "identifier_type_codes", "copy_fields", "z_segments", "msh18"}  # fmt: skip
    unknown = set(data) - known
    if unknown:
        raise ProfileError(f"profile {name}: unknown keys {sorted(unknown)}")
    events = {**DEFAULT_EVENTS, **_strings(data.get("events", {}), f"profile {name}: events")}
    copies = tuple(_copy(name, item) for item in data.get("copy_fields", []))
    zs = tuple(_z(name, item) for item in data.get("z_segments", []))
    msh18 = data.get("msh18")
    return VendorProfile(
        name=name,
        description=str(data.get("description", "")),
        sending_application=str(data.get("sending_application", "DUALCODE")),
        receiving_application=str(data.get("receiving_application", "")),
        events=MappingProxyType(events),
        identifier_type_codes=MappingProxyType(
            _strings(data.get("identifier_type_codes", {}), f"profile {name}: identifier_type_codes")
        ),
        copy_fields=copies,
        z_segments=zs,
        msh18=None if msh18 is None else str(msh18),
    )


def _strings(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ProfileError(f"{where} must be a table of strings")
    return {str(k): v for k, v in value.items()}


def _copy(name: str, item: object) -> FieldCopy:
    # "PID-3" -> ("PID", 3)
    if not isinstance(item, dict):
        raise ProfileError(f"profile {name}: copy_fields entries are tables")
    try:
        seg, _, src = str(item["from"]).partition("-")
        seg2, _, dst = str(item["to"]).partition("-")
        if seg != seg2 or seg == "MSH":
            raise ValueError
        return FieldCopy(seg, int(src), int(dst))
    except (KeyError, ValueError):
        raise ProfileError(f"profile {name}: copy_fields needs from/to like 'PID-3' in one segment") from None


def _z(name: str, item: object) -> ZSegment:
    if not isinstance(item, dict) or not str(item.get("name", "")).startswith("Z"):
        raise ProfileError(f"profile {name}: a z_segment needs a name starting with Z")
    fields = tuple(str(f) for f in item.get("fields", []))
    bad = [f for f in fields if f and f not in Z_FIELD_SOURCES]
    if bad or len(str(item["name"])) != 3:
        raise ProfileError(f"profile {name}: z_segment fields must be among {sorted(Z_FIELD_SOURCES)}")
    return ZSegment(str(item["name"]), fields)
