"""CX -> FHIR Identifier through one table: CX.5 (identifier type, + CX.4 assigner) -> system.

Order: the sender's override for ``type@assigner``, then for ``type``; the default table below;
then an assigner that names its own system (CX.4.2 with CX.4.3 ISO or URI). A CX with none of
these keeps its value and type but gets no system, and the caller reports it as unmapped.

Defaults (DOMAIN.md §8): NNCHN and NI are the resident ID number; SS the social security number;
HC the health card number; MR and PI a hospital's own patient number (CX.4.1, else the sender's
hospital code; an MR with neither is a medical record number); vendors' IDCard is the ID number
and MedCard the medical insurance card, which in China is the social security card.
"""

from __future__ import annotations

from types import MappingProxyType

from mappings.codes import IdentifierKey
from mappings.hl7v2 import Repetition
from mappings.identity_documents import mod11_2_check_char, normalise_id_number
from mappings.v2_to_fhir.datatypes import Json, date
from mappings.v2_to_fhir.profile import SenderProfile
from mappings.v2_to_fhir.systems import LOCAL_CODE_SYSTEM, V2_IDENTIFIER_TYPE

DEFAULT_TYPES = MappingProxyType(
    {
        "NNCHN": IdentifierKey.ID_NUMBER,
        "NI": IdentifierKey.ID_NUMBER,
        "IDCard": IdentifierKey.ID_NUMBER,
        "SS": IdentifierKey.SSN,
        "HC": IdentifierKey.HEALTH_CARD_NUMBER,
        "MedCard": IdentifierKey.SSC_CARD_NUMBER,
        "MR": IdentifierKey.HOSPITAL_PATIENT_NUMBER,
        "PI": IdentifierKey.HOSPITAL_PATIENT_NUMBER,
    }
)
# HL7 table 0203 codes (the ones a Chinese HIS uses); other CX.5 values are local codes.
TABLE_0203 = frozenset(
    {"NNCHN", "NI", "SS", "HC", "MR", "PI", "PN", "PPN", "DL", "VN", "AN", "PT", "PRN", "EN", "MC", "MA"}
)
_ID_NUMBER_KEYS = (IdentifierKey.ID_NUMBER, IdentifierKey.SSN)


def identifier_type(code: str) -> Json:
    system = V2_IDENTIFIER_TYPE if code in TABLE_0203 else LOCAL_CODE_SYSTEM + "identifier-type"
    return {"coding": [{"system": system, "code": code}]}


def resolve_system(
    type_code: str, assigner: str, profile: SenderProfile, oid: str = "", kind: str = ""
) -> str:
    """The system URI for a CX.5 + CX.4, or "" when the table has none."""
    target = profile.identifier_types.get(f"{type_code}@{assigner}") or profile.identifier_types.get(
        type_code
    )
    if target and ":" in target:
        return target
    key = IdentifierKey(target) if target else DEFAULT_TYPES.get(type_code)
    if key is IdentifierKey.HOSPITAL_PATIENT_NUMBER:
        hospital = assigner or profile.hospital_code
        if hospital:
            try:
                return profile.systems.hospital_patient_number(hospital)
            except ValueError:
                return ""
        if type_code == "MR":
            return profile.systems.system(IdentifierKey.MEDICAL_RECORD_NUMBER)
        return ""
    if key is not None:
        return profile.systems.system(key)
    kind = kind.upper()
    uri = f"urn:oid:{oid}" if oid and kind == "ISO" else oid if oid and kind in ("URI", "URL") else ""
    # An alias of a system in the table (an NHC OID for the ID number ...) means that system.
    known = profile.systems.key_for(uri) if uri else None
    if known is not None and known is not IdentifierKey.HOSPITAL_PATIENT_NUMBER:
        return profile.systems.system(known)
    return uri


def identifier(rep: Repetition, profile: SenderProfile) -> tuple[Json | None, str]:
    """(Identifier, problem): problem is "" when the identifier got a system."""
    value = rep.component(1)
    if not value:
        return None, ""
    type_code = rep.component(5)
    assigner, oid, kind = rep.subcomponent(4, 1), rep.subcomponent(4, 2), rep.subcomponent(4, 3)
    system = resolve_system(type_code, assigner, profile, oid, kind)
    problem = ""
    if system and system in {profile.systems.system(key) for key in _ID_NUMBER_KEYS}:
        value = normalise_id_number(value)  # a lower-case x is the same person
        problem = _id_number_problem(value)
    out: Json = {}
    if type_code:
        out["type"] = identifier_type(type_code)
    if system:
        out["system"] = system
    out["value"] = value
    start, end = date(rep.component(7)), date(rep.component(8))
    if start or end:
        out["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    if assigner:
        out["assigner"] = {"display": assigner}
    if not system:
        problem = f"no identifier system for type {type_code!r} assigned by {assigner!r}"
    return out, problem


def _id_number_problem(value: str) -> str:
    """Kept either way (the patient index decides); a wrong check character is worth a word."""
    if (
        len(value) == 18
        and value[:17].isascii()
        and value[:17].isdigit()
        and mod11_2_check_char(value[:17]) != value[17]
    ):
        return "ID number check character does not match (ISO 7064 MOD 11-2)"
    return ""
