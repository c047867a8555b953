"""A FHIR Patient as PersonFacts: how a Patient posted by a FHIR client (IHE ITI-104) or a $match
probe enters the patient index. An ordinary R4 Patient (no Chinese identifiers, no extensions) is
fine: whatever it carries becomes facts, nothing is required."""

from __future__ import annotations

from datetime import date
from typing import Any

from mappings.codes import IdentifierKey, IdentifierSystems, sex_for_fhir_gender
from mappings.person.facts import RESIDENT_ID, FactIdentifier, PersonFacts
from mappings.person.fhir_terms import ETHNICITY_EXTENSION, SEX_EXTENSION


def facts_from_patient(
    patient: dict[str, Any], systems: IdentifierSystems, *, source: str = "fhir"
) -> PersonFacts:
    identifiers: list[FactIdentifier] = []
    id_number: str | None = None
    for identifier in patient.get("identifier", []):
        system, value = identifier.get("system"), identifier.get("value")
        if not system or not value or ":" not in system:
            continue  # an identifier without a system names nobody in particular
        key = systems.key_for(system)
        if key is IdentifierKey.ID_NUMBER and id_number is None:
            id_number = value
            continue
        identifiers.append(FactIdentifier(key, system, value))
    return PersonFacts(
        source=source,
        identifiers=tuple(identifiers),
        id_number=id_number,
        certificate_type=RESIDENT_ID,
        name=_name(patient),
        sex=_sex(patient),
        birth_date=_birth_date(patient.get("birthDate")),
        ethnicity=_extension_code(patient, ETHNICITY_EXTENSION),
        phone=_phone(patient),
        address=_address(patient),
    )


def _name(patient: dict[str, Any]) -> str | None:
    names = patient.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if not official:
        return None
    text = official.get("text") or "".join([official.get("family", ""), *official.get("given", [])])
    return str(text) or None


def _sex(patient: dict[str, Any]) -> str | None:
    coded = _extension_code(patient, SEX_EXTENSION)
    if coded:
        return coded
    gender = patient.get("gender")
    try:
        return sex_for_fhir_gender(gender) if gender else None
    except KeyError:
        return None


def _extension_code(patient: dict[str, Any], url: str) -> str | None:
    for extension in patient.get("extension", []):
        if extension.get("url") == url:
            concept = extension.get("valueCodeableConcept") or {}
            coding = extension.get("valueCoding") or (concept.get("coding") or [{}])[0]
            code = coding.get("code") or extension.get("valueCode")
            return str(code) if code else None
    return None


def _birth_date(value: str | None) -> date | None:
    # FHIR allows partial dates (1990, 1990-01); only a full date is a fact we match on.
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _phone(patient: dict[str, Any]) -> str | None:
    for telecom in patient.get("telecom", []):
        if telecom.get("system") == "phone" and telecom.get("value"):
            return str(telecom["value"])
    return None


def _address(patient: dict[str, Any]) -> str | None:
    for address in patient.get("address", []):
        text = address.get("text") or "".join(
            [
                address.get("state", ""),
                address.get("city", ""),
                address.get("district", ""),
                *address.get("line", []),
            ]
        )
        if text:
            return str(text)
    return None
