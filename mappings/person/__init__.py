"""A person as sources tell it (PersonFacts) and its FHIR forms: Patient and Coverage (pure)."""

from mappings.person.coverage import (
    ACTIVE_INSURANCE_STATUS,
    coverage_from_insurance,
    payor_id,
    payor_organization,
)
from mappings.person.facts import (
    CERTIFICATE_SYSTEM,
    RESIDENT_ID,
    FactIdentifier,
    PersonFacts,
    identifier_of,
)
from mappings.person.fhir_terms import (
    ETHNICITY_EXTENSION,
    ETHNICITY_SYSTEM,
    SEX_EXTENSION,
    SEX_SYSTEM,
)
from mappings.person.from_fhir import facts_from_patient
from mappings.person.names import (
    COMPOUND_SURNAMES,
    NameParts,
    clean_name,
    fold_name,
    is_chinese_name,
    split_name,
    traditional_to_simplified,
)
from mappings.person.patient import (
    SINGLE_VALUED,
    FactConflict,
    identifier_json,
    merge_facts_into_patient,
    patient_from_facts,
)

__all__ = [
    "ACTIVE_INSURANCE_STATUS",
    "CERTIFICATE_SYSTEM",
    "COMPOUND_SURNAMES",
    "ETHNICITY_EXTENSION",
    "ETHNICITY_SYSTEM",
    "RESIDENT_ID",
    "SEX_EXTENSION",
    "SEX_SYSTEM",
    "SINGLE_VALUED",
    "FactConflict",
    "FactIdentifier",
    "NameParts",
    "PersonFacts",
    "clean_name",
    "coverage_from_insurance",
    "facts_from_patient",
    "fold_name",
    "identifier_json",
    "identifier_of",
    "is_chinese_name",
    "merge_facts_into_patient",
    "patient_from_facts",
    "payor_id",
    "payor_organization",
    "split_name",
    "traditional_to_simplified",
]
