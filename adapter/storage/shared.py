"""Rules both storage implementations share, so memory and SQL cannot drift apart.

Ids, version stamping, the clock, and how search tokens and identifiers become lookup keys (the SQL
store hashes these keys with the vault's blind index; the memory store compares them directly).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapter.errors import InvalidId, InvalidResource
from adapter.storage.records import SearchToken

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_SEP = "\x00"  # cannot occur in a FHIR uri or token value, so keys are unambiguous

# Outbox events that still block their ordering key (delivered and dead ones no longer do).
ACTIVE_OUTBOX = ("pending", "delivering")


class UtcClock:
    """Timezone-aware UTC, strictly increasing within one store (a stable order for equal ticks)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        current = datetime.now(UTC)
        if current <= self._last:
            current = self._last + timedelta(microseconds=1)
        self._last = current
        return current


def new_id() -> str:
    return str(uuid.uuid4())


def new_key() -> str:
    """Ids of messages and outbox events (not FHIR ids)."""
    return uuid.uuid4().hex


def check_id(resource_id: object) -> str:
    if not isinstance(resource_id, str) or not _FHIR_ID.fullmatch(resource_id):
        raise InvalidId(expression=("id",))
    return resource_id


def body_id(body: dict[str, Any], *, required: bool) -> str:
    """The id a write uses: the body's own, or a new one for a create without id."""
    resource_id = body.get("id")
    if resource_id is None:
        if required:
            raise InvalidId("an update needs the resource id", expression=("id",))
        return new_id()
    return check_id(resource_id)


def utc(moment: datetime) -> datetime:
    """Normalise to UTC; naive datetimes are refused (their zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def resource_type_of(body: dict[str, Any]) -> str:
    resource_type = body.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type.isalpha():
        raise InvalidResource("the body has no valid resourceType", expression=("resourceType",))
    return resource_type


def instant(moment: datetime) -> str:
    """FHIR instant with microseconds, so meta.lastUpdated equals the stored timestamp."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def stamp(
    body: dict[str, Any], *, resource_id: str, version_id: int, last_updated: datetime
) -> dict[str, Any]:
    """A copy of the body carrying id and meta.versionId/lastUpdated (the caller's dict is untouched)."""
    stamped = dict(body)
    stamped["id"] = resource_id
    meta = dict(stamped.get("meta") or {})
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = instant(last_updated)
    stamped["meta"] = meta
    return stamped


def tombstone(resource_type: str, resource_id: str) -> dict[str, Any]:
    """The body recorded for a deleted version: no content, only identity."""
    return {"resourceType": resource_type, "id": resource_id}


def token_keys(tokens: Iterable[SearchToken]) -> set[tuple[str, str]]:
    """(param, key) pairs to index. A token with a system is findable by system|value and by value
    alone (two keys); a token without a system has one key, under the empty system, which both
    ``|value`` and a value-alone search look up (``criterion_keys``). Most tokens (names, dates,
    references, blocking keys) carry no system, so this keeps about a third of the rows off the index."""
    keys: set[tuple[str, str]] = set()
    for token in tokens:
        if token.system:
            keys.add((token.param, _any_system(token.value)))
        keys.add((token.param, _with_system(token.system or "", token.value)))
    return keys


def criterion_key(token: SearchToken) -> tuple[str, str]:
    """The key a search criterion matches tokens with a system by; system None matches any system
    (``criterion_keys`` adds the key of tokens without a system)."""
    if token.system is None:
        return token.param, _any_system(token.value)
    return token.param, _with_system(token.system, token.value)


def criterion_keys(token: SearchToken) -> tuple[str, tuple[str, ...]]:
    """The param and every key a criterion matches (a resource matches when it has any of them):
    ``system|value`` and ``|value`` one key each; value alone the key of tokens with a system and the
    key of tokens without one. (Databases written before tokens without a system had one key also
    hold the first for those; both still find them.)"""
    param, key = criterion_key(token)
    if token.system is None:
        return param, (key, _with_system("", token.value))
    return param, (key,)


def criteria_keys(criteria: Sequence[SearchToken]) -> list[tuple[str, tuple[str, ...]]]:
    """``criterion_keys`` of every criterion, deduplicated and in a stable order."""
    return sorted({criterion_keys(token) for token in criteria})


def identity_key(system: str, value: str) -> str:
    return f"identity{_SEP}{system}{_SEP}{value}"


def _any_system(value: str) -> str:
    return f"0{_SEP}{value}"


def _with_system(system: str, value: str) -> str:
    return f"1{_SEP}{system}{_SEP}{value}"


def notify_outbox_listeners(listeners: Iterable[Callable[[], None]]) -> None:
    """Call the post-commit outbox listeners; one that fails is logged, never the caller's failure
    (the unit of work has committed: a missed wake-up only means the dispatcher's poll finds it)."""
    for listener in listeners:
        try:
            listener()
        except Exception:
            logging.getLogger("dualcode.storage").exception("an outbox listener failed")
