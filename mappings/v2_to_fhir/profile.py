"""Per-sender settings the mappings take as data (never read from configuration themselves)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from mappings.codes import IdentifierKey, IdentifierSystems, identifier_systems


@dataclass(frozen=True)
class SenderProfile:
    """How one sender writes its messages.

    hospital_code: the sender's institution code; MR/PI identifiers without CX.4 belong to it.
    identifier_types: CX.5 (or ``CX.5@CX.4.1``, which wins) -> an identifier key of
        `mappings.codes.IdentifierKey` (``id-number``, ``hospital-patient-number`` ...) or a system URI.
    coding_systems: CE.3 coding system names -> FHIR system URIs, over systems.CODING_SYSTEMS.
    utc_offset: for times sent without one (FHIR needs a zone with every time; China is +08:00).
    ethnicity_form: how PID-22 is written when building v2 (GB 3304 numeric or letter code).
    z_segments: Z-segment name -> extension URL: the segment's wire text is kept as that extension
        (valueString) on the resource it follows (the patient when none), instead of being reported.
    """

    hospital_code: str = ""
    identifier_types: Mapping[str, str] = field(default_factory=dict)
    systems: IdentifierSystems = field(default_factory=identifier_systems)
    coding_systems: Mapping[str, str] = field(default_factory=dict)
    utc_offset: str = "+08:00"
    ethnicity_form: Literal["numeric", "letter"] = "numeric"
    z_segments: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "z_segments", MappingProxyType(dict(self.z_segments)))
        keys = {key.value for key in IdentifierKey}
        for type_code, target in self.identifier_types.items():
            if ":" not in target and target not in keys:
                raise ValueError(
                    f"identifier type {type_code!r}: {target!r} is neither a URI nor one of {sorted(keys)}"
                )
        object.__setattr__(self, "identifier_types", MappingProxyType(dict(self.identifier_types)))
        object.__setattr__(self, "coding_systems", MappingProxyType(dict(self.coding_systems)))


DEFAULT_PROFILE = SenderProfile()
