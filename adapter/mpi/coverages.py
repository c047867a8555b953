"""Coverage resources of an imported person, with stable ids and the tokens the repository indexes.

A Coverage's id is derived from (patient, insutype, insured region), so importing the same person
again finds the Coverage it wrote instead of adding a second one. The payor Organization of each
insured region (``nhsa-<region>``) is created once, the first time a Coverage refers to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final

from adapter.errors import ResourceNotFound
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import SearchToken
from mappings.codes import IdentifierSystems
from mappings.person import coverage_from_insurance, payor_organization
from mappings.person.fhir_terms import INSURED_REGION_SYSTEM

_NAMESPACE: Final = uuid.UUID("5b0f3c5e-8f7a-4f6e-9d8a-6b1c2d3e4f50")  # dualcode Coverage ids


def coverage_id(patient_id: str, insutype: str, insured_region: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{patient_id}|{insutype}|{insured_region}"))


def coverage_tokens(body: dict[str, Any]) -> tuple[SearchToken, ...]:
    """patient (``Patient/<id>``), type (insutype) and identifier (psn_no): the one token set every
    Coverage writer uses (bulk import, the card scan's CoverageKeeper, the FHIR API), so each finds
    the others' Coverages."""
    tokens = [SearchToken("patient", None, body["beneficiary"]["reference"])]
    tokens += [
        SearchToken("type", c.get("system"), c["code"]) for c in body.get("type", {}).get("coding", [])
    ]
    tokens += [SearchToken("identifier", i.get("system"), i["value"]) for i in body.get("identifier", [])]
    return tuple(tokens)


def coverages_for(
    patient_id: str, insurance: Iterable[Mapping[str, Any]], *, psn_no: str, systems: IdentifierSystems
) -> list[dict[str, Any]]:
    """One Coverage per insurance entry, each with its stable id."""
    bodies = []
    for item in insurance:
        body = coverage_from_insurance(f"Patient/{patient_id}", item, psn_no=psn_no, systems=systems)
        region = str(item["insuplc_admdvs"]).strip()
        body["id"] = coverage_id(patient_id, str(item["insutype"]).strip(), region)
        bodies.append(body)
    return bodies


def insured_regions(coverages: Iterable[dict[str, Any]]) -> set[str]:
    return {str(c["payor"][0]["identifier"]["value"]) for c in coverages if c.get("payor")}


async def ensure_payors(uow: UnitOfWork, regions: Iterable[str], known: set[str]) -> None:
    """Create the payor Organization of each region not in ``known`` (and remember it there)."""
    for region in sorted(set(regions) - known):
        body = payor_organization(region)
        try:
            await uow.resources.read("Organization", body["id"])
        except ResourceNotFound:
            # update-as-create: a concurrent importer creating it too is not an error
            await uow.resources.update(
                body, tokens=[SearchToken("identifier", INSURED_REGION_SYSTEM, region)]
            )
        known.add(region)


async def ensure_coverages(uow: UnitOfWork, bodies: Iterable[dict[str, Any]]) -> int:
    """Create the Coverages not stored yet (the one-by-one path); returns how many were created."""
    created = 0
    for body in bodies:
        try:
            await uow.resources.read("Coverage", body["id"])
        except ResourceNotFound:
            await uow.resources.create(body, tokens=coverage_tokens(body))
            created += 1
    return created
