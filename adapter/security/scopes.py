"""Roles, SMART v2 system scopes, and the checks routes make against a token's scopes.

A resource scope is ``system/<Type|*>.<cruds>``: the letters (in that order, each at most once) are
c=create, r=read (read, vread, instance history), u=update (update, patch), d=delete, s=search
(search, type history). SMART v1 suffixes ``read``/``write``/``*`` are accepted in requests and
become ``rs``/``cud``/``cruds``. Other scopes (``dualcode/admin``) are opaque: granted or not.

AuditEvent is protected: a wildcard scope never reaches it, only an explicit ``system/AuditEvent.*``
scope, which only ``admin`` holds. Every role and its scopes are listed in docs/security.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from adapter.errors import InvalidRequest, InvalidScopeRequest

LETTERS = "cruds"
ADMIN_SCOPE = "dualcode/admin"
SAMPLING_SCOPE = "dualcode/sampling.register"  # register a sample against a verified card holder
PROTECTED_TYPES = frozenset({"AuditEvent"})
MAX_REQUESTED_SCOPES = 64

ROLE_SCOPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "his": frozenset(
            {
                "system/Patient.cruds",
                "system/Coverage.rs",
                "system/Encounter.cruds",
                "system/MedicationRequest.cruds",
                "system/MedicationDispense.rs",
            }
        ),
        "pharmacy": frozenset(
            {
                "system/Patient.rs",
                "system/Coverage.rs",
                "system/MedicationRequest.rs",
                "system/MedicationDispense.cru",
            }
        ),
        "sampling": frozenset({"system/Patient.rs", SAMPLING_SCOPE}),
        "admin": frozenset({"system/*.cruds", "system/AuditEvent.rs", ADMIN_SCOPE}),
    }
)
ROLES = frozenset(ROLE_SCOPES)

# FHIR RESTful interactions -> the SMART v2 letter that permits them.
INTERACTION_LETTER: Mapping[str, str] = MappingProxyType(
    {
        "create": "c",
        "read": "r",
        "vread": "r",
        "history-instance": "r",
        "update": "u",
        "patch": "u",
        "delete": "d",
        "search": "s",
        "search-type": "s",
        "history-type": "s",
    }
)

_RESOURCE_SCOPE = re.compile(
    r"(?P<context>system|patient|user)/(?P<type>\*|[A-Z][A-Za-z]{0,63})"
    r"\.(?P<perm>c?r?u?d?s?|read|write|\*)"
)
_V1 = {"read": "rs", "write": "cud", "*": LETTERS}


@dataclass(frozen=True, slots=True)
class ResourceScope:
    context: str  # system | patient | user (only system is ever granted here)
    resource_type: str  # a FHIR type, or "*"
    permissions: frozenset[str]  # letters from "cruds"

    def __str__(self) -> str:
        letters = "".join(c for c in LETTERS if c in self.permissions)
        return f"{self.context}/{self.resource_type}.{letters}"

    def reaches(self, resource_type: str) -> bool:
        if self.resource_type == resource_type:
            return True
        return self.resource_type == "*" and resource_type not in PROTECTED_TYPES


def parse_scope(text: str) -> ResourceScope | None:
    """A resource scope, or None for an opaque scope (``dualcode/admin``, ``openid``, ...)."""
    match = _RESOURCE_SCOPE.fullmatch(text)
    if match is None:
        return None
    letters = _V1.get(match["perm"], match["perm"])
    if not letters:
        return None
    return ResourceScope(match["context"], match["type"], frozenset(letters))


def validate_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Known roles, de-duplicated and sorted; InvalidRequest for an unknown role or none at all."""
    cleaned = sorted({role.strip() for role in roles if role.strip()})
    unknown = [role for role in cleaned if role not in ROLES]
    if unknown or not cleaned:
        raise InvalidRequest(f"roles must be one or more of {', '.join(sorted(ROLES))}")
    return tuple(cleaned)


def scopes_for_roles(roles: Iterable[str]) -> frozenset[str]:
    """Every scope the roles grant together."""
    return frozenset().union(*(ROLE_SCOPES[role] for role in validate_roles(roles)))


def _letters_for(granted: Iterable[ResourceScope], resource_type: str) -> frozenset[str]:
    # A requested "*" is covered only by granted "*" scopes, never by a union of explicit types.
    found: set[str] = set()
    for scope in granted:
        if scope.context == "system" and (
            scope.resource_type == resource_type or (resource_type != "*" and scope.reaches(resource_type))
        ):
            found |= scope.permissions
    return frozenset(found)


def _parsed(granted: Iterable[str]) -> list[ResourceScope]:
    return [scope for scope in map(parse_scope, granted) if scope is not None]


def allows(granted: Iterable[str], resource_type: str, interaction: str) -> bool:
    """Whether the scopes permit ``interaction`` (a FHIR interaction name or a letter) on the type."""
    letter = INTERACTION_LETTER.get(interaction, interaction)
    if len(letter) != 1 or letter not in LETTERS:
        raise ValueError(f"unknown interaction {interaction!r}")
    return letter in _letters_for(_parsed(granted), resource_type)


def narrow_scopes(granted: Iterable[str], requested: str | None) -> frozenset[str]:
    """The scopes a token gets: all granted ones when none are requested (RFC 6749 §3.3), else the
    requested ones, each of which must be covered by what is granted (InvalidScopeRequest if not)."""
    granted_set = frozenset(granted)
    if requested is None or not requested.strip():
        return granted_set
    tokens = requested.split()
    if len(tokens) > MAX_REQUESTED_SCOPES:
        raise InvalidScopeRequest("too many scopes requested")
    granted_scopes = _parsed(granted_set)
    result: set[str] = set()
    for token in tokens:
        scope = parse_scope(token)
        if scope is None:
            covered = token in granted_set
        else:
            covered = scope.context == "system" and scope.permissions <= _letters_for(
                granted_scopes, scope.resource_type
            )
        if not covered:
            raise InvalidScopeRequest(f"scope {token[:80]!r} is not granted to this client")
        result.add(token if scope is None else str(scope))
    return frozenset(result)
