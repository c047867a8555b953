"""The one protocol every outbound connector speaks, and the frozen values that cross it.

The dispatcher (adapter.outbox) hands a connector an Envelope: the event, its hospital and the FHIR
resources it is about, already read from storage. The connector renders them in its own form (HL7 v2,
FHIR, JSON, a table row), delivers, and answers a Receipt. A connector never raises for a delivery
that failed: it answers ``Receipt(delivered=False, ...)`` so the dispatcher can retry or dead-letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event for one destination.

    event_id: the outbox event id; it is the idempotency key at the receiver (MSH-10, header, column).
    resources: role -> FHIR resource body, e.g. {"patient": {...}, "target": {...}} for a merge.
    """

    event_id: str
    topic: str  # patient.created, patient.updated, patient.merged, ...
    hospital: str
    destination: str
    ordering_key: str
    occurred_at: str  # ISO 8601 with offset: when the change was committed
    payload: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def control_id(self) -> str:
        """MSH-10 for this event: stable across retries (v2.5 ST allows 20 characters)."""
        return self.event_id.replace("-", "")[:20]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one delivery. ``detail`` is the receiver's own words (ERR text,
    OperationOutcome diagnostics, HTTP status), kept for the operator; it carries no message text."""

    delivered: bool
    detail: str = ""
    reference: str | None = None  # what the receiver calls it: MSA-2, a resource id, a row key
    retryable: bool = True  # False: retrying cannot help (the envelope cannot be rendered)

    @staticmethod
    def ok(reference: str | None = None, detail: str = "") -> Receipt:
        return Receipt(True, detail, reference)

    @staticmethod
    def failed(detail: str, *, retryable: bool = True, reference: str | None = None) -> Receipt:
        return Receipt(False, detail[:500], reference, retryable)


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str = ""


class Connector(Protocol):
    """One destination's transport. Safe to call ``deliver`` concurrently (different keys)."""

    async def deliver(self, envelope: Envelope) -> Receipt: ...

    async def health(self) -> Health: ...

    async def close(self) -> None: ...


class RenderError(ValueError):
    """The envelope cannot become this destination's message (a permanent failure)."""
