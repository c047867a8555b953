"""What the FHIR API implements, as one table.

The core refuses anything not listed and the CapabilityStatement is rendered from it, so the
statement stays true as later features add rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.fhir.search_params import SEARCH_PARAMS, SearchParam


@dataclass(frozen=True, slots=True)
class ResourceSupport:
    resource_type: str
    interactions: frozenset[str]
    search_params: tuple[SearchParam, ...] = ()
    conditional_create: bool = False
    operations: tuple[str, ...] = ()  # names of OperationDefinitions (adapter/fhir/operation_definitions.py)
    documentation: str = ""


AUDIT_EVENT_PARAMS = (SearchParam("patient", "reference", "Accesses to this patient's data (admin only)"),)

SUPPORTED: dict[str, ResourceSupport] = {
    "Patient": ResourceSupport(
        "Patient",
        frozenset({"read", "vread", "search-type", "history-instance", "create", "update"}),
        SEARCH_PARAMS["Patient"],
        conditional_create=True,
        operations=("resolve-card", "ihe-pix", "match", "merge", "unmerge"),
        documentation="One Patient per person, carrying every identifier the person has; create and update "
        "go through the patient index (IHE PIXm ITI-104)",
    ),
    "Coverage": ResourceSupport(
        "Coverage",
        frozenset({"read", "vread", "search-type"}),
        SEARCH_PARAMS["Coverage"],
        documentation="Medical insurance from NHSA 1101, refreshed on an interval",
    ),
    "AuditEvent": ResourceSupport(
        "AuditEvent",
        frozenset({"search-type"}),
        AUDIT_EVENT_PARAMS,
        documentation="Every access to personal data; admin only",
    ),
}


def supports(resource_type: str, interaction: str) -> bool:
    support = SUPPORTED.get(resource_type)
    return support is not None and interaction in support.interactions
