"""A verified CardHolder as the patient index's PersonFacts (tokens stay behind: never identifiers)."""

from __future__ import annotations

from typing import Any

from adapter.cards.holder import CardHolder, Insurance
from mappings.codes import IdentifierSystems
from mappings.person import FactIdentifier, PersonFacts, identifier_of


def facts_from_holder(holder: CardHolder, systems: IdentifierSystems) -> PersonFacts:
    identifiers: list[FactIdentifier] = []
    for sourced in holder.identifiers:
        identifiers.append(identifier_of(systems, sourced.key, sourced.value))
    return PersonFacts(
        source=holder.kind,  # what was scanned: essc, ehc, nhsa, ssc (reader line) or idcard
        identifiers=tuple(identifiers),
        id_number=holder.cert_number,
        certificate_type=holder.cert_type,
        name=holder.name,
        sex=holder.sex,
        birth_date=holder.birth_date,
        ethnicity=holder.ethnicity,
        phone=holder.phone,
        address=holder.address,
    )


def insuinfo_of(insurance: Insurance) -> dict[str, Any]:
    """The NHSA 1101 insuinfo shape that mappings' coverage_from_insurance reads."""
    entry: dict[str, Any] = {
        "insutype": insurance.insutype,
        "psn_type": insurance.psn_type,
        "psn_insu_stas": insurance.status,
        "insuplc_admdvs": insurance.insured_region,
    }
    if insurance.start_date:
        entry["psn_insu_date"] = insurance.start_date.isoformat()
    if insurance.pause_date:
        entry["paus_insu_date"] = insurance.pause_date.isoformat()
    return entry
