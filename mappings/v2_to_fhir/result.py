"""What a mapping returns: FHIR resources, instructions (merge, query), and everything left unmapped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """A produced resource. `full_url` is a placeholder (``urn:uuid:``, stable per message and role)
    that other resources reference; the caller replaces it when it stores the resource."""

    full_url: str
    resource: Json


@dataclass(frozen=True)
class Unmapped:
    """A segment or field that carried data the mapping did not translate (``ZPI``, ``PID-10``)."""

    location: str
    reason: str


@dataclass(frozen=True)
class MergeInstruction:
    """ADT^A40: the patient of the `prior` identifiers (MRG-1) merges into that of `surviving` (PID-3)."""

    surviving: tuple[Json, ...]
    prior: tuple[Json, ...]
    prior_visit: str = ""  # MRG-5
    prior_account: str = ""  # MRG-3
    prior_name: Json | None = None  # MRG-7


@dataclass(frozen=True)
class PixQuery:
    """QBP^Q23: the identifiers in `target_systems` (all if empty) of the person known by `source`."""

    query_tag: str
    source: Json
    target_systems: tuple[str, ...]


@dataclass(frozen=True)
class PdqQuery:
    """QBP^Q22: demographic parameters as sent (v2 path, value) and as FHIR Patient search parameters."""

    query_tag: str
    parameters: tuple[tuple[str, str], ...]
    search: tuple[tuple[str, str], ...]
    target_systems: tuple[str, ...]
    limit: int | None = None


@dataclass(frozen=True)
class V2Result:
    message_type: str
    trigger_event: str
    control_id: str
    entries: tuple[Entry, ...] = ()
    unmapped: tuple[Unmapped, ...] = ()
    merges: tuple[MergeInstruction, ...] = ()
    query: PixQuery | PdqQuery | None = None
    issues: tuple[Unmapped, ...] = field(default=())  # values present but unusable (bad dates ...)
    # Fields sent as HL7's explicit null ``""``: the sender asks the receiver to delete the value.
    cleared: tuple[str, ...] = ()

    def resources(self, resource_type: str | None = None) -> list[Json]:
        return [
            e.resource
            for e in self.entries
            if resource_type is None or e.resource["resourceType"] == resource_type
        ]

    def to_json(self) -> Json:
        """A plain JSON view (the golden files' format)."""
        out: Json = {
            "message": f"{self.message_type}^{self.trigger_event}",
            "controlId": self.control_id,
            "entries": [{"fullUrl": e.full_url, "resource": e.resource} for e in self.entries],
            "unmapped": [{"location": u.location, "reason": u.reason} for u in self.unmapped],
        }
        if self.issues:
            out["issues"] = [{"location": u.location, "reason": u.reason} for u in self.issues]
        if self.cleared:
            out["cleared"] = list(self.cleared)
        if self.merges:
            out["merges"] = [
                {
                    "surviving": list(m.surviving),
                    "prior": list(m.prior),
                    **({"priorVisit": m.prior_visit} if m.prior_visit else {}),
                    **({"priorAccount": m.prior_account} if m.prior_account else {}),
                    **({"priorName": m.prior_name} if m.prior_name else {}),
                }
                for m in self.merges
            ]
        if isinstance(self.query, PixQuery):
            out["pixQuery"] = {
                "queryTag": self.query.query_tag,
                "source": self.query.source,
                "targetSystems": list(self.query.target_systems),
            }
        elif isinstance(self.query, PdqQuery):
            out["pdqQuery"] = {
                "queryTag": self.query.query_tag,
                "parameters": [list(p) for p in self.query.parameters],
                "search": [list(p) for p in self.query.search],
                "targetSystems": list(self.query.target_systems),
                **({"limit": self.query.limit} if self.query.limit is not None else {}),
            }
        return out
