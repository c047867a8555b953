"""Code tables as data files (this folder), each loaded once. Sources: README.md beside this file."""

from mappings.codes.code_table import Coded, CodeTable
from mappings.codes.ethnicity import (
    Ethnicity,
    ethnicities,
    ethnicities_by_letter,
    ethnicity_letter_for_numeric,
    ethnicity_numeric_for_letter,
)
from mappings.codes.identifier_systems import (
    HOSPITAL_CODE_PLACEHOLDER,
    IdentifierKey,
    IdentifierSystem,
    IdentifierSystemOverride,
    IdentifierSystems,
    default_identifier_systems,
    identifier_systems,
)
from mappings.codes.regions import (
    Region,
    RegionLevel,
    lookup_region,
    province_of,
    region_level,
    regions,
    resolve_address_code,
)
from mappings.codes.sex import FhirGender, Sex, fhir_gender_for_sex, sex_codes, sex_for_fhir_gender
from mappings.codes.simple_tables import certificate_types, insurance_types, psn_cert_types
from mappings.codes.visit_credential_types import (
    VisitCredential,
    VisitCredentialOverrides,
    VisitCredentialType,
    default_visit_credential_types,
    visit_credential_types,
    visit_credential_types_for_region,
)

__all__ = [
    "HOSPITAL_CODE_PLACEHOLDER",
    "CodeTable",
    "Coded",
    "Ethnicity",
    "FhirGender",
    "IdentifierKey",
    "IdentifierSystem",
    "IdentifierSystemOverride",
    "IdentifierSystems",
    "Region",
    "RegionLevel",
    "Sex",
    "VisitCredential",
    "VisitCredentialOverrides",
    "VisitCredentialType",
    "certificate_types",
    "default_identifier_systems",
    "default_visit_credential_types",
    "ethnicities",
    "ethnicities_by_letter",
    "ethnicity_letter_for_numeric",
    "ethnicity_numeric_for_letter",
    "fhir_gender_for_sex",
    "identifier_systems",
    "insurance_types",
    "lookup_region",
    "province_of",
    "psn_cert_types",
    "region_level",
    "regions",
    "resolve_address_code",
    "sex_codes",
    "sex_for_fhir_gender",
    "visit_credential_types",
    "visit_credential_types_for_region",
]
