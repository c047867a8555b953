"""Which search parameters each resource type supports, and the index tokens a body yields.

Only what is listed here is searchable, and the CapabilityStatement is built from this table, so the
two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapter.errors import InvalidSearch
from adapter.storage.records import SearchToken


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str  # FHIR search param type: token | reference
    documentation: str
    extract: Callable[[dict[str, Any]], list[SearchToken]]


def _identifier_tokens(body: dict[str, Any]) -> list[SearchToken]:
    tokens = []
    for identifier in body.get("identifier", []):
        value = identifier.get("value")
        if value:
            tokens.append(SearchToken("identifier", identifier.get("system"), value))
    return tokens


PATIENT_PARAMS = (
    SearchParam(
        "identifier",
        "token",
        "Any identifier of the person: system|value, or value under any system",
        _identifier_tokens,
    ),
)

SEARCH_PARAMS: dict[str, tuple[SearchParam, ...]] = {"Patient": PATIENT_PARAMS}

# Result-shaping parameters accepted on every search.
CONTROL_PARAMS = frozenset({"_count", "_format", "_offset"})


def index_tokens(body: dict[str, Any]) -> list[SearchToken]:
    """Every token the repository must index for this body."""
    tokens: list[SearchToken] = []
    for param in SEARCH_PARAMS.get(body["resourceType"], ()):
        tokens.extend(param.extract(body))
    return tokens


def parse_token(param: str, raw: str) -> SearchToken:
    """``system|value`` → (system, value); ``value`` → any system; ``|value`` → no system is not
    supported (we never store identifiers without a system) and is treated as any system."""
    if not raw:
        raise InvalidSearch(f"{param}: empty value", expression=(param,))
    system, sep, value = raw.partition("|")
    if not sep:
        return SearchToken(param, None, raw)
    if not value:
        raise InvalidSearch(f"{param}: system| without a value is not supported", expression=(param,))
    return SearchToken(param, system or None, value)


def criteria_for(resource_type: str, query: list[tuple[str, str]]) -> list[SearchToken]:
    """Turn query pairs into repository criteria; an unknown parameter is an error (strict handling)."""
    known = {p.name: p for p in SEARCH_PARAMS.get(resource_type, ())}
    criteria = []
    for name, raw in query:
        if name in CONTROL_PARAMS:
            continue
        if name not in known:
            raise InvalidSearch(
                f"unsupported search parameter {name!r} on {resource_type}", expression=(name,)
            )
        if "," in raw:
            raise InvalidSearch(f"{name}: OR lists (a,b) are not supported", expression=(name,))
        criteria.append(parse_token(name, raw))
    return criteria
