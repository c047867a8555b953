"""The one table of FHIR identifier systems: defaults from HL7 China and NHC, overridable by configuration."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any

from mappings.codes._data import read_json
from mappings.codes.code_table import CodeTable


class IdentifierKey(StrEnum):
    """The identifiers a person may carry; each has one system URI (plus aliases recognised on input)."""

    ID_NUMBER = "id-number"
    SSC_CARD_NUMBER = "ssc-card-number"
    SSN = "ssn"
    SSC_IDENTIFICATION_CODE = "ssc-identification-code"
    EHC_ID = "ehc-id"
    EHC_MASTER_INDEX = "ehc-master-index"
    HEALTH_CARD_NUMBER = "health-card-number"
    NHSA_PSN_NO = "nhsa-psn-no"
    OUTPATIENT_NUMBER = "outpatient-number"
    INPATIENT_NUMBER = "inpatient-number"
    MEDICAL_RECORD_NUMBER = "medical-record-number"
    HOSPITAL_PATIENT_NUMBER = "hospital-patient-number"


HOSPITAL_CODE_PLACEHOLDER = "{hospital_code}"
_HOSPITAL_CODE = r"[A-Za-z0-9._-]+"


@dataclass(frozen=True)
class IdentifierSystem:
    key: IdentifierKey
    system: str
    aliases: tuple[str, ...]
    description: str


# A configuration override: a new system URI, or {"system": ..., "aliases": [...]}.
IdentifierSystemOverride = str | Mapping[str, object]


@dataclass(frozen=True)
class IdentifierSystems:
    """Which system URI each identifier uses; `with_overrides` gives a new table."""

    table: CodeTable[IdentifierSystem]

    def __post_init__(self) -> None:
        missing = set(IdentifierKey) - set(self.table)
        if missing:
            raise ValueError(f"identifier systems missing: {sorted(missing)}")
        if HOSPITAL_CODE_PLACEHOLDER not in self.table[IdentifierKey.HOSPITAL_PATIENT_NUMBER].system:
            raise ValueError(f"the hospital patient number system needs {HOSPITAL_CODE_PLACEHOLDER}")
        seen: dict[str, str] = {}
        for entry in self.table.values():
            for uri in (entry.system, *entry.aliases):
                if seen.setdefault(uri, entry.key) != entry.key:
                    raise ValueError(f"system {uri} is given to both {seen[uri]} and {entry.key}")

    def system(self, key: IdentifierKey | str) -> str:
        """The system URI for an identifier (for hospital numbers use hospital_patient_number)."""
        return self.table[IdentifierKey(key)].system

    def hospital_patient_number(self, hospital_code: str) -> str:
        """The system URI for one hospital's own patient numbers."""
        if not re.fullmatch(_HOSPITAL_CODE, hospital_code):
            raise ValueError("a hospital code is letters, digits, '.', '_' or '-'")
        pattern = self.table[IdentifierKey.HOSPITAL_PATIENT_NUMBER].system
        return pattern.replace(HOSPITAL_CODE_PLACEHOLDER, hospital_code)

    def key_for(self, system: str) -> IdentifierKey | None:
        """Which identifier a system URI (current or alias, or a hospital's URI) stands for."""
        for entry in self.table.values():
            if system == entry.system or system in entry.aliases:
                return entry.key
        return IdentifierKey.HOSPITAL_PATIENT_NUMBER if self.hospital_code_for(system) else None

    def hospital_code_for(self, system: str) -> str | None:
        """The hospital code inside a hospital patient number system URI, else None."""
        entry = self.table[IdentifierKey.HOSPITAL_PATIENT_NUMBER]
        return _hospital_code_in((entry.system, *entry.aliases), system)

    def with_overrides(self, overrides: Mapping[str, IdentifierSystemOverride]) -> IdentifierSystems:
        """A new table; a replaced system URI stays recognised as an alias unless aliases are given."""
        entries: dict[str, IdentifierSystem] = dict(self.table)
        for name, change in overrides.items():
            try:
                key = IdentifierKey(name)
            except ValueError:
                raise ValueError(f"unknown identifier system key {name!r}") from None
            entries[key] = _overridden(entries[key], change)
        return IdentifierSystems(CodeTable(self.table.title, entries))


@lru_cache(maxsize=1024)  # every identifier a Patient gets asks (a bulk import: ~6 per person)
def _hospital_code_in(patterns: tuple[str, ...], system: str) -> str | None:
    for pattern in patterns:
        head, _, tail = pattern.partition(HOSPITAL_CODE_PLACEHOLDER)
        found = re.fullmatch(f"{re.escape(head)}({_HOSPITAL_CODE}){re.escape(tail)}", system)
        if found:
            return found.group(1)
    return None


def _overridden(entry: IdentifierSystem, change: IdentifierSystemOverride) -> IdentifierSystem:
    if isinstance(change, str):
        change = {"system": change}
    unknown = set(change) - {"system", "aliases"}
    if unknown:
        raise ValueError(f"{entry.key}: unknown override keys {sorted(unknown)}")
    system = change.get("system", entry.system)
    if not isinstance(system, str) or ":" not in system:
        raise ValueError(f"{entry.key}: the system must be a URI")
    if "aliases" in change:
        given = change["aliases"]
        if not isinstance(given, list | tuple) or not all(isinstance(a, str) for a in given):
            raise ValueError(f"{entry.key}: aliases must be a list of URIs")
        aliases = tuple(str(a) for a in given)
    else:
        aliases = entry.aliases + ((entry.system,) if system != entry.system else ())
    return replace(entry, system=system, aliases=tuple(a for a in dict.fromkeys(aliases) if a != system))


@cache
def default_identifier_systems() -> IdentifierSystems:
    """The shipped defaults (identifier_systems.json)."""
    raw: dict[str, dict[str, Any]] = read_json("identifier_systems.json")
    entries: dict[str, IdentifierSystem] = {
        name: IdentifierSystem(
            key=IdentifierKey(name),
            system=str(value["system"]),
            aliases=tuple(str(a) for a in value["aliases"]),
            description=str(value["description"]),
        )
        for name, value in raw.items()
    }
    return IdentifierSystems(CodeTable("identifier systems", entries))


def identifier_systems(overrides: Mapping[str, IdentifierSystemOverride] | None = None) -> IdentifierSystems:
    """The defaults with configuration overrides applied."""
    defaults = default_identifier_systems()
    return defaults.with_overrides(overrides) if overrides else defaults
