"""Known people, remembered: most scans are of a person already linked, with the same card as the
last time. What the last resolve of the same facts decided (the Patient at its version, the
scanning institution's number, the Coverage at their versions) is kept here, and the next scan of
those facts is answered from it once two indexed reads (no body, nothing decrypted) show that the
Patient and its Coverage are still at those versions. Any change to the Patient (an update, a merge
or unmerge, which also move identity links, a deletion) bumps its version, and any Coverage change
shows in the versions, so a stale answer is never given; a changed entry is dropped and the scan is
resolved in full, as before.

Only ``settled`` resolutions are kept (every identifier already linked, unflagged, to that Patient
and nothing taken from the facts): for those the same facts decide the same way while the version
stays. Each answer is still audited like a resolve.

Nothing here is for the garbage collector to walk: thousands of entries of dicts, dataclasses or
the ``PersonFacts`` themselves (a dozen container objects a person) made each full collection walk
~90,000 more objects, up to ~80 ms of a stalled event loop at 1,000,000 people with the cache
churning. So the key is the facts serialised (``scan_key``: bytes), an entry is a plain tuple of
strings, numbers and bytes (CPython stops tracking such tuples), and bodies are JSON bytes (each
answer also gets its own dicts: a caller may change them).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import orjson

from adapter.mpi.values import Resolution
from mappings.person import PersonFacts

DEFAULT_SIZE: Final = 8192  # people remembered per process, least recently scanned dropped first


@dataclass(frozen=True, slots=True)
class KnownScan:
    patient_id: str
    version_id: int
    patient_json: bytes
    local: tuple[str, str] | None  # (system, value) of the institution's number
    coverages_json: bytes
    coverage_versions: tuple[tuple[str, int], ...] | None  # None: the answer has no Coverage

    @classmethod
    def of(
        cls,
        resolution: Resolution,
        local: dict[str, str] | None,
        coverages: tuple[dict[str, Any], ...] | None,
    ) -> KnownScan:
        return cls(
            patient_id=resolution.patient_id,
            version_id=resolution.version_id,
            patient_json=orjson.dumps(resolution.patient),
            local=None if local is None else (local["system"], local["value"]),
            coverages_json=orjson.dumps(coverages or ()),
            coverage_versions=None if coverages is None else versions_of(coverages),
        )

    def as_tuple(self) -> tuple[Any, ...]:
        """The fields in order (``KnownScan(*t)`` gives it back); not ``dataclasses.astuple``, whose
        deep copy cost ~35 µs a scan."""
        return (
            self.patient_id,
            self.version_id,
            self.patient_json,
            self.local,
            self.coverages_json,
            self.coverage_versions,
        )

    def resolution(self) -> Resolution:
        patient = orjson.loads(self.patient_json)
        return Resolution(patient, self.patient_id, False, version_id=self.version_id, settled=True)

    def local_identifier(self) -> dict[str, str] | None:
        return None if self.local is None else {"system": self.local[0], "value": self.local[1]}

    def coverages(self) -> tuple[dict[str, Any], ...]:
        return tuple(orjson.loads(self.coverages_json))


def versions_of(bodies: tuple[dict[str, Any], ...]) -> tuple[tuple[str, int], ...]:
    """(id, version id) of stored bodies, in their order: what ``search_versions`` gives for them."""
    return tuple((str(body["id"]), int(body["meta"]["versionId"])) for body in bodies)


def scan_key(facts: PersonFacts, organization: str | None, numbered: bool) -> bytes:
    """What a scan said, as bytes: every field of the facts (orjson writes a dataclass whole, the
    fields its repr hides included), the institution and whether the step numbers the person. Equal
    exactly when the facts are equal."""
    return orjson.dumps((facts, organization, numbered))


class KnownScans:
    """A bounded map from what a scan said (``scan_key``) to a ``KnownScan``."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[Any, ...]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> KnownScan | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return KnownScan(*found)

    def put(self, key: bytes, known: KnownScan) -> None:
        if self._size <= 0:
            return
        self._entries[key] = known.as_tuple()  # a plain tuple: see the module's docstring
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)
