"""URIs used by the v2 <-> FHIR mappings: HL7 terminology, and our own where none is published."""

from __future__ import annotations

from types import MappingProxyType

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
V2_IDENTIFIER_TYPE = TERMINOLOGY + "v2-0203"
V3_ACT_CODE = TERMINOLOGY + "v3-ActCode"
V3_NULL_FLAVOR = TERMINOLOGY + "v3-NullFlavor"
V3_PARTICIPATION_TYPE = TERMINOLOGY + "v3-ParticipationType"
V3_INTERPRETATION = TERMINOLOGY + "v3-ObservationInterpretation"
V2_MARITAL_STATUS = TERMINOLOGY + "v2-0002"
OBSERVATION_CATEGORY = TERMINOLOGY + "observation-category"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
UCUM = "http://unitsofmeasure.org"

# No published StructureDefinition or CodeSystem exists for these (DOMAIN.md §7): ours, stable.
EXT_ETHNICITY = "urn:dualcode:fhir:extension:ethnicity"
EXT_SEX_GBT2261 = "urn:dualcode:fhir:extension:gbt2261-1-sex"
EXT_UNIT_PRICE = "urn:dualcode:fhir:extension:chargeitem-unit-price"
EXT_TRANSACTION_TYPE = "urn:dualcode:fhir:extension:chargeitem-transaction-type"
GB3304_NUMERIC = "urn:dualcode:code-system:gb3304"
GB3304_LETTER = "urn:dualcode:code-system:gb3304-letter"
GBT2261_SEX = "urn:dualcode:code-system:gbt2261.1"
LOCAL_CODE_SYSTEM = "urn:dualcode:code-system:v2:"  # + the v2 coding system name (CE.3) as sent

# v2 coding system names (CE.3, HL7 table 0396) -> FHIR system URIs; others become LOCAL_CODE_SYSTEM.
CODING_SYSTEMS = MappingProxyType(
    {
        "LN": "http://loinc.org",
        "LOINC": "http://loinc.org",
        "SCT": "http://snomed.info/sct",
        "SNM": "http://snomed.info/sct",
        "UCUM": UCUM,
        "I10": "http://hl7.org/fhir/sid/icd-10",
        "ICD10": "http://hl7.org/fhir/sid/icd-10",
        "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
        "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
        "ISO+": "urn:iso:std:iso:4217",
        "GB3304": GB3304_NUMERIC,
        "NHSA_INSUTYPE": "urn:dualcode:code-system:nhsa-insutype",
    }
)
