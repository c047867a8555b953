"""Card holder facts -> Patient / Coverage: the names ARCHITECTURE.md places here, kept in
``mappings.person`` (one module per concept) and re-exported."""

from mappings.person import (
    FactConflict,
    FactIdentifier,
    PersonFacts,
    coverage_from_insurance,
    merge_facts_into_patient,
    patient_from_facts,
    payor_organization,
)

__all__ = [
    "FactConflict",
    "FactIdentifier",
    "PersonFacts",
    "coverage_from_insurance",
    "merge_facts_into_patient",
    "patient_from_facts",
    "payor_organization",
]
