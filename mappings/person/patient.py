"""PersonFacts -> FHIR R4 Patient, and folding later facts into an existing Patient without ever
overwriting a conflicting name, birth date or single-valued identifier (those come back as conflicts)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

from mappings.codes import (
    IdentifierKey,
    IdentifierSystems,
    certificate_types,
    default_identifier_systems,
    ethnicities,
    fhir_gender_for_sex,
    sex_codes,
)
from mappings.person.facts import FactIdentifier, PersonFacts
from mappings.person.fhir_terms import (
    ETHNICITY_EXTENSION,
    ETHNICITY_LETTER_SYSTEM,
    ETHNICITY_SYSTEM,
    SEX_EXTENSION,
    SEX_SYSTEM,
    identifier_type,
)
from mappings.person.names import clean_name, fold_name, split_name

# One value per person: a different incoming value is a conflict, not a second identifier.
SINGLE_VALUED: Final = frozenset(
    {
        IdentifierKey.ID_NUMBER,
        IdentifierKey.SSN,
        IdentifierKey.NHSA_PSN_NO,
        IdentifierKey.EHC_MASTER_INDEX,
        IdentifierKey.HOSPITAL_PATIENT_NUMBER,  # per hospital: the system differs per hospital
    }
)
_KEEP_OLD = 3  # earlier phones/addresses kept (marked old) so a HIS still finds the one it knows


@dataclass(frozen=True, slots=True)
class FactConflict:
    """A fact a source gives that differs from the Patient's. Values hidden from repr (logs)."""

    field: str  # name | birthDate | gender | ethnicity | identifier:<system>
    existing: str = dataclasses.field(repr=False)
    incoming: str = dataclasses.field(repr=False)
    source: str


def patient_from_facts(facts: PersonFacts, systems: IdentifierSystems, *, patient_id: str) -> dict[str, Any]:
    """A new Patient (R4 JSON) from one source's facts."""
    patient: dict[str, Any] = {"resourceType": "Patient", "id": patient_id, "active": True}
    merged, _ = merge_facts_into_patient(patient, facts, systems=systems)  # empty: nothing to disagree
    return merged


def merge_facts_into_patient(
    patient: dict[str, Any], facts: PersonFacts, *, systems: IdentifierSystems | None = None
) -> tuple[dict[str, Any], tuple[FactConflict, ...]]:
    """A new Patient dict with what the facts add; the input is not changed. Conflicting facts are
    left out and returned, never written over the existing ones."""
    systems = systems or default_identifier_systems()
    # Copy-on-write: the steps below replace top-level values and append to the identifier list,
    # never change a nested value in place, so copying those two levels keeps the input unchanged
    # (a deep copy was a tenth of a card scan's cost).
    result = dict(patient)
    if "identifier" in result:
        result["identifier"] = list(result["identifier"])
    conflicts: list[FactConflict] = []
    for identifier in facts.all_identifiers(systems):
        conflict = _add_identifier(result, identifier, facts, systems)
        if conflict:
            conflicts.append(conflict)
    for apply in (_apply_name, _apply_birth_date, _apply_sex, _apply_ethnicity):
        conflict = apply(result, facts)
        if conflict:
            conflicts.append(conflict)
    _apply_phone(result, facts)
    _apply_address(result, facts)
    return result, tuple(conflicts)


def identifier_json(identifier: FactIdentifier, systems: IdentifierSystems) -> dict[str, Any]:
    """One FHIR Identifier with its type coding (and the hospital as assigner for local numbers)."""
    out: dict[str, Any] = {"system": identifier.system, "value": identifier.value}
    if identifier.key is IdentifierKey.ID_NUMBER:
        out["use"] = "official"
    kind = identifier_type(identifier.key, identifier.system)
    if kind:
        out["type"] = kind
    hospital = systems.hospital_code_for(identifier.system)
    if hospital:
        out["assigner"] = {"display": hospital}
    return out


def _add_identifier(
    patient: dict[str, Any], identifier: FactIdentifier, facts: PersonFacts, systems: IdentifierSystems
) -> FactConflict | None:
    current = patient.setdefault("identifier", [])
    same_system = [i for i in current if i.get("system") == identifier.system]
    if any(i.get("value") == identifier.value for i in same_system):
        return None
    if same_system and (identifier.key is None or identifier.key in SINGLE_VALUED):
        existing = str(same_system[0].get("value", ""))
        return FactConflict(f"identifier:{identifier.system}", existing, identifier.value, facts.source)
    entry = identifier_json(identifier, systems)
    if identifier.key is None:  # another certificate: name its type in the text
        kind = certificate_types().get(identifier.system.rsplit(":", 1)[-1])
        entry["type"] = {**entry.get("type", {}), "text": kind.name if kind else "证件号码"}
        entry["use"] = "official"
    current.append(entry)
    return None


def _apply_name(patient: dict[str, Any], facts: PersonFacts) -> FactConflict | None:
    if facts.name is None or not clean_name(facts.name):
        return None
    names = patient.get("name") or []
    if names:
        existing = _name_text(names[0])
        if fold_name(existing) != fold_name(facts.name):
            return FactConflict("name", existing, clean_name(facts.name), facts.source)
        return None
    parts = split_name(facts.name)
    name: dict[str, Any] = {"use": "official", "text": parts.text}
    if parts.family:
        name["family"] = parts.family
    if parts.given:
        name["given"] = list(parts.given)
    patient["name"] = [name]
    return None


def _name_text(name: dict[str, Any]) -> str:
    if name.get("text"):
        return str(name["text"])
    return "".join([str(name.get("family", "")), *(str(g) for g in name.get("given", []))])


def _apply_birth_date(patient: dict[str, Any], facts: PersonFacts) -> FactConflict | None:
    if facts.birth_date is None:
        return None
    incoming = facts.birth_date.isoformat()
    existing = patient.get("birthDate")
    if existing is None:
        patient["birthDate"] = incoming
        return None
    return None if existing == incoming else FactConflict("birthDate", existing, incoming, facts.source)


def _sex_code_of(patient: dict[str, Any]) -> str | None:
    for extension in patient.get("extension", []):
        if extension.get("url") == SEX_EXTENSION:
            return str(extension["valueCoding"]["code"])
    return None


def _apply_sex(patient: dict[str, Any], facts: PersonFacts) -> FactConflict | None:
    # GB 0 (unknown) never counts as a disagreement and is replaced by a known sex.
    if facts.sex is None:
        return None
    existing = _sex_code_of(patient)
    if existing not in (None, "0") and facts.sex != "0" and existing != facts.sex:
        return FactConflict("gender", str(existing), facts.sex, facts.source)
    if existing in (None, "0") and (existing is None or facts.sex != "0"):
        sex = sex_codes()[facts.sex]
        patient["gender"] = fhir_gender_for_sex(facts.sex)
        coding = {"system": SEX_SYSTEM, "code": sex.code, "display": sex.name}
        _set_extension(patient, {"url": SEX_EXTENSION, "valueCoding": coding})
    return None


def _apply_ethnicity(patient: dict[str, Any], facts: PersonFacts) -> FactConflict | None:
    if facts.ethnicity is None:
        return None
    existing = next((e for e in patient.get("extension", []) if e.get("url") == ETHNICITY_EXTENSION), None)
    if existing is not None:
        code = existing["valueCodeableConcept"]["coding"][0]["code"]
        return (
            None
            if code == facts.ethnicity
            else FactConflict("ethnicity", code, facts.ethnicity, facts.source)
        )
    entry = ethnicities()[facts.ethnicity]
    codings = [{"system": ETHNICITY_SYSTEM, "code": entry.numeric, "display": entry.name}]
    if entry.letter:
        codings.append({"system": ETHNICITY_LETTER_SYSTEM, "code": entry.letter, "display": entry.name})
    concept = {"coding": codings, "text": entry.name}
    _set_extension(patient, {"url": ETHNICITY_EXTENSION, "valueCodeableConcept": concept})
    return None


def _set_extension(patient: dict[str, Any], extension: dict[str, Any]) -> None:
    kept = [e for e in patient.get("extension", []) if e.get("url") != extension["url"]]
    patient["extension"] = [*kept, extension]


def _apply_phone(patient: dict[str, Any], facts: PersonFacts) -> None:
    # Phones change legitimately: the newest comes first, earlier ones stay (a few) for lookups.
    if facts.phone is None:
        return
    phone = "".join(facts.phone.split())
    telecom = [
        t for t in patient.get("telecom", []) if not (t.get("system") == "phone" and t["value"] == phone)
    ]
    entry: dict[str, Any] = {"system": "phone", "value": phone, "rank": 1}
    if len(phone) == 11 and phone.startswith("1") and phone.isdigit():
        entry["use"] = "mobile"
    older = [{k: v for k, v in t.items() if k != "rank"} for t in telecom][:_KEEP_OLD]
    patient["telecom"] = [entry, *older]


def _apply_address(patient: dict[str, Any], facts: PersonFacts) -> None:
    if facts.address is None:
        return
    text = clean_name(facts.address)
    others = [a for a in patient.get("address", []) if a.get("text") != text]
    older = [{**a, "use": "old"} for a in others][:_KEEP_OLD]
    patient["address"] = [{"use": "home", "text": text}, *older]
