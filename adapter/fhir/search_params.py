"""Which search parameters each resource type supports, and the index tokens a body yields.

Only what is listed here is searchable, and the CapabilityStatement is built from this table, so the
two cannot drift apart. Patient tokens come from the patient index (adapter.mpi.patient_index_tokens),
which also indexes folded names, pinyin and blocking keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapter.errors import InvalidSearch
from adapter.mpi import name_search_value, patient_index_tokens
from adapter.mpi.coverages import coverage_tokens
from adapter.storage.records import SearchToken
from mappings.codes import IdentifierKey, default_identifier_systems


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str  # FHIR search param type: token | reference | string | date
    documentation: str
    normalise: Callable[[str], str] = str  # how a query value is made comparable with the index


def _reference(resource_type: str) -> Callable[[str], str]:
    def normalise(value: str) -> str:
        return value if "/" in value else f"{resource_type}/{value}"

    return normalise


PATIENT_PARAMS = (
    SearchParam(
        "identifier", "token", "Any identifier of the person: system|value, or value under any system"
    ),
    SearchParam(
        "name",
        "string",
        "Whole name, family or given name, in Chinese (simplified or traditional) "
        "or the toneless pinyin of the whole name; exact match after folding",
        name_search_value,
    ),
    SearchParam("birthdate", "date", "Birth date, exact day (YYYY-MM-DD)"),
    SearchParam("gender", "token", "male | female | other | unknown"),
)
COVERAGE_PARAMS = (
    SearchParam("patient", "reference", "The beneficiary: Patient/<id> or <id>", _reference("Patient")),
    SearchParam("identifier", "token", "The NHSA person number (psn_no)"),
    SearchParam("type", "token", "The NHSA insurance type (insutype), e.g. 310 or 390"),
)

SEARCH_PARAMS: dict[str, tuple[SearchParam, ...]] = {"Patient": PATIENT_PARAMS, "Coverage": COVERAGE_PARAMS}
_EXTRACTORS: dict[str, Callable[[dict[str, Any]], list[SearchToken]]] = {
    "Patient": patient_index_tokens,
    "Coverage": lambda body: list(coverage_tokens(body)),
}

# Result-shaping parameters accepted on every search.
CONTROL_PARAMS = frozenset({"_count", "_format", "_offset"})


def index_tokens(body: dict[str, Any]) -> list[SearchToken]:
    """Every token the repository must index for this body."""
    extract = _EXTRACTORS.get(body["resourceType"])
    return extract(body) if extract else []


def parse_token(param: str, raw: str) -> SearchToken:
    """``system|value`` → (system, value); ``value`` → any system; ``|value`` → stored without system."""
    if not raw:
        raise InvalidSearch(f"{param}: empty value", expression=(param,))
    system, sep, value = raw.partition("|")
    if not sep:
        return SearchToken(param, None, raw)
    if not value:
        raise InvalidSearch(f"{param}: system| without a value is not supported", expression=(param,))
    return SearchToken(param, system, value)


def canonical_system(system: str) -> str:
    """The system the index stores for an alias (e.g. the NHC ID-number OID for HL7 China's)."""
    systems = default_identifier_systems()
    key = systems.key_for(system)
    if key is None or key is IdentifierKey.HOSPITAL_PATIENT_NUMBER:
        return system
    return systems.system(key)


def criteria_for(resource_type: str, query: list[tuple[str, str]]) -> list[SearchToken]:
    """Turn query pairs into repository criteria; an unknown parameter is an error (strict handling)."""
    known = {p.name: p for p in SEARCH_PARAMS.get(resource_type, ())}
    criteria = []
    for name, raw in query:
        if name in CONTROL_PARAMS:
            continue
        param = known.get(name)
        if param is None:
            raise InvalidSearch(
                f"unsupported search parameter {name!r} on {resource_type}", expression=(name,)
            )
        if "," in raw:
            raise InvalidSearch(f"{name}: OR lists (a,b) are not supported", expression=(name,))
        if param.type == "token":
            token = parse_token(name, raw)
            if name == "identifier" and token.system:
                token = SearchToken(name, canonical_system(token.system), token.value)
            criteria.append(token)
        elif raw:
            criteria.append(SearchToken(name, None, param.normalise(raw)))
        else:
            raise InvalidSearch(f"{name}: empty value", expression=(name,))
    return criteria
