"""HL7 v2 -> FHIR R4 (pure: no I/O, no clock, no settings), after the HL7 V2-to-FHIR IG concept maps.

    result = map_message(parse(text), SenderProfile(hospital_code="BZRMYY"))
    result.resources("Patient"); result.unmapped; result.merges; result.query

Resources are plain FHIR R4 JSON dicts; cross-references use ``urn:uuid:`` placeholders (Entry.full_url)
that the caller replaces. `unmapped` lists every segment and field that carried data but was not
translated, and `issues` every value that was present but unusable: nothing is dropped silently.
"""

from mappings.v2_to_fhir.identifiers import DEFAULT_TYPES, resolve_system
from mappings.v2_to_fhir.message import HANDLERS, map_message
from mappings.v2_to_fhir.profile import DEFAULT_PROFILE, SenderProfile
from mappings.v2_to_fhir.result import Entry, MergeInstruction, PdqQuery, PixQuery, Unmapped, V2Result

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_TYPES",
    "HANDLERS",
    "Entry",
    "MergeInstruction",
    "PdqQuery",
    "PixQuery",
    "SenderProfile",
    "Unmapped",
    "V2Result",
    "map_message",
    "resolve_system",
]
