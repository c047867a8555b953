"""The working state of one message's mapping: placeholders, problems found, field accounting.

Mutable on purpose and private to one `map_message` call; what leaves is the frozen V2Result.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from mappings.hl7v2 import Segment
from mappings.v2_to_fhir.profile import SenderProfile
from mappings.v2_to_fhir.result import Entry, Json, Unmapped

# Placeholders are uuid5 of (control id, role): the same message always gives the same URLs.
_NAMESPACE = uuid.UUID("0d5c1f9e-58c2-4d0c-9a39-2f3c1a4c7b10")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def placeholder_uuid(name: str) -> str:
    """``str(uuid.uuid5(_NAMESPACE, name))`` without building UUID objects (every resource of every
    message gets one)."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8"), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class Context:
    profile: SenderProfile
    control_id: str
    entries: list[Entry] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    issues: list[Unmapped] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def add(self, resource: Json) -> str:
        """Add a resource; returns its placeholder URL for references."""
        kind = resource["resourceType"]
        self.counters[kind] = number = self.counters.get(kind, 0) + 1
        url = f"urn:uuid:{placeholder_uuid(f'{self.control_id}/{kind}/{number}')}"
        self.entries.append(Entry(url, resource))
        return url

    def issue(self, location: str, reason: str) -> None:
        self.issues.append(Unmapped(location, reason))

    def skip(self, location: str, reason: str) -> None:
        self.unmapped.append(Unmapped(location, reason))

    def account(self, seg: Segment, where: str, mapped: Iterable[int]) -> None:
        """Report every non-empty field of `seg` outside `mapped` as unmapped."""
        done = set(mapped)
        for number in range(1, len(seg) + 1):
            if number not in done and seg.raw(number):
                self.skip(f"{where}-{number}", "field not mapped")
