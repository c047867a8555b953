"""NHSA 1101 ``insuinfo`` entry -> FHIR R4 Coverage, and the payor Organization per insured region."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from mappings.codes import IdentifierKey, IdentifierSystems, insurance_types, lookup_region
from mappings.person.fhir_terms import (
    COVERAGE_CLASS,
    INSURED_REGION_SYSTEM,
    INSUTYPE_SYSTEM,
    SUBSCRIBER_RELATIONSHIP,
)

# psn_insu_stas: 1 normal (正常参保); 2 suspended (暂停参保) and 4 terminated (终止参保) are not covered.
ACTIVE_INSURANCE_STATUS: Final = "1"
_REGION = re.compile(r"\d{6}")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def payor_id(insured_region: str) -> str:
    """The Organization id of the medical insurance pool of one insured region (insuplc_admdvs)."""
    if not _REGION.fullmatch(insured_region):
        raise ValueError("insuplc_admdvs is a 6-digit code")
    return f"nhsa-{insured_region}"


def payor_organization(insured_region: str) -> dict[str, Any]:
    """The payor Organization. Pools like xx99 are not GB/T 2260 regions: named by code only."""
    region = lookup_region(insured_region)
    name = f"{region.full_name}医疗保障局" if region else f"医疗保障统筹区 {insured_region}"
    return {
        "resourceType": "Organization",
        "id": payor_id(insured_region),
        "active": True,
        "identifier": [{"system": INSURED_REGION_SYSTEM, "value": insured_region}],
        "type": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "pay"}]}
        ],
        "name": name,
    }


def coverage_from_insurance(
    patient_ref: str,
    insuinfo_item: Mapping[str, Any],
    *,
    psn_no: str,
    systems: IdentifierSystems,
) -> dict[str, Any]:
    """One Coverage per insurance entry: type from insutype, subscriberId = psn_no, payor per
    insured region, status active only while psn_insu_stas is 1. The balance (balc) is left out on
    purpose: it changes with every settlement and belongs to the settlement answer."""
    insutype = _required(insuinfo_item, "insutype")
    region = _required(insuinfo_item, "insuplc_admdvs")
    known = insurance_types().get(insutype)
    display = known.name if known else f"insutype {insutype}"
    active = str(insuinfo_item.get("psn_insu_stas", "")) == ACTIVE_INSURANCE_STATUS
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "status": "active" if active else "cancelled",
        "identifier": [
            {
                "system": systems.system(IdentifierKey.NHSA_PSN_NO),
                "value": psn_no,
                "type": {"text": "医保人员编号"},
            }
        ],
        "type": {
            "coding": [{"system": INSUTYPE_SYSTEM, "code": insutype, "display": display}],
            "text": display,
        },
        "subscriberId": psn_no,
        "beneficiary": {"reference": patient_ref},
        "relationship": {"coding": [{"system": SUBSCRIBER_RELATIONSHIP, "code": "self"}]},
        "payor": [
            {
                "reference": f"Organization/{payor_id(region)}",
                "identifier": {"system": INSURED_REGION_SYSTEM, "value": region},
            }
        ],
    }
    psn_type = str(insuinfo_item.get("psn_type") or "")
    if psn_type:
        coverage["class"] = [
            {
                "type": {"coding": [{"system": COVERAGE_CLASS, "code": "plan"}]},
                "value": psn_type,
                "name": f"人员类别 {psn_type}",
            }
        ]
    employer = str(insuinfo_item.get("emp_name") or "")
    if employer:
        coverage["policyHolder"] = {"display": employer}
    period = _period(insuinfo_item, active=active)
    if period:
        coverage["period"] = period
    return coverage


def _required(item: Mapping[str, Any], key: str) -> str:
    value = str(item.get(key) or "").strip()
    if not value:
        raise ValueError(f"insuinfo has no {key}")
    return value


def _period(item: Mapping[str, Any], *, active: bool) -> dict[str, str]:
    period: dict[str, str] = {}
    start = _date(item.get("psn_insu_date"))
    if start:
        period["start"] = start
    end = None if active else _date(item.get("paus_insu_date"))
    if end:
        period["end"] = end
    return period


def _date(value: object) -> str | None:
    """NHSA dates come as "yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss" or yyyyMMdd; FHIR wants a date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()[:10]
    iso = _ISO_DATE.fullmatch(text)
    if iso:  # the usual form, without strptime's cost (an invalid date falls through to its error)
        try:
            return date(*map(int, iso.groups())).isoformat()
        except ValueError:
            pass
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text[: 10 if "-" in form else 8], form).date().isoformat()
        except ValueError:
            continue
    raise ValueError("an insuinfo date is not yyyy-MM-dd or yyyyMMdd")
