"""The FHIR URIs and codings the person mappings emit, in one place.

No official CN Core IG exists (DOMAIN.md §7), so the code systems of the Chinese national tables and
our extensions live under ``urn:dualcode:``; identifier type codes come from HL7 v2 table 0203 where a
code fits (NNCHN national person identifier, SS, HC, MB member number, MR, PI, PPN, DL).
"""

from __future__ import annotations

from typing import Any, Final

from mappings.codes import IdentifierKey

V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
IDENTIFIER_KEY_SYSTEM: Final = "urn:dualcode:identifier-key"

SEX_SYSTEM: Final = "urn:dualcode:code-system:gbt2261.1"
SEX_EXTENSION: Final = "urn:dualcode:extension:gbt2261-sex"
ETHNICITY_SYSTEM: Final = "urn:dualcode:code-system:gb3304"
ETHNICITY_LETTER_SYSTEM: Final = "urn:dualcode:code-system:gb3304-letter"
ETHNICITY_EXTENSION: Final = "urn:dualcode:extension:ethnicity"

INSUTYPE_SYSTEM: Final = "urn:dualcode:nhsa:insutype"
INSURED_REGION_SYSTEM: Final = "urn:dualcode:nhsa:insuplc-admdvs"
COVERAGE_CLASS: Final = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP: Final = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"

# key -> (v2-0203 code or None, v2 display, Chinese text)
_TYPES: Final[dict[IdentifierKey, tuple[str | None, str, str]]] = {
    IdentifierKey.ID_NUMBER: ("NNCHN", "National Person Identifier (China)", "居民身份证号码"),
    IdentifierKey.SSN: ("SS", "Social Security number", "社会保障号码"),
    IdentifierKey.SSC_CARD_NUMBER: (None, "", "社会保障卡卡号"),
    IdentifierKey.SSC_IDENTIFICATION_CODE: (None, "", "社会保障卡识别码"),
    IdentifierKey.EHC_ID: ("HC", "Health Card Number", "电子健康卡ID"),
    IdentifierKey.EHC_MASTER_INDEX: (None, "", "电子健康卡主索引"),
    IdentifierKey.HEALTH_CARD_NUMBER: ("HC", "Health Card Number", "健康卡号"),
    IdentifierKey.NHSA_PSN_NO: ("MB", "Member Number", "医保人员编号"),
    IdentifierKey.OUTPATIENT_NUMBER: (None, "", "门诊号"),
    IdentifierKey.INPATIENT_NUMBER: (None, "", "住院号"),
    IdentifierKey.MEDICAL_RECORD_NUMBER: ("MR", "Medical record number", "病案号"),
    IdentifierKey.HOSPITAL_PATIENT_NUMBER: ("PI", "Patient internal identifier", "院内患者号"),
}
# Other certificates (WS 364 code -> v2-0203) where table 0203 has a code.
_CERTIFICATE_V2: Final = {"03": ("PPN", "Passport number"), "05": ("DL", "Driver's license number")}


def identifier_type(key: IdentifierKey | None, system: str) -> dict[str, Any] | None:
    """Identifier.type: our key coding, the v2-0203 coding where one fits, Chinese text."""
    if key is None:
        v2 = _CERTIFICATE_V2.get(system.rsplit(":", 1)[-1])
        return {"coding": [{"system": V2_0203, "code": v2[0], "display": v2[1]}]} if v2 else None
    code, display, text = _TYPES[key]
    codings: list[dict[str, str]] = []
    if code:
        codings.append({"system": V2_0203, "code": code, "display": display})
    codings.append({"system": IDENTIFIER_KEY_SYSTEM, "code": key.value})
    return {"coding": codings, "text": text}
