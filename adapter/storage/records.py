"""Immutable values that cross the storage ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a FHIR resource. ``body`` carries id and meta.versionId/lastUpdated already set."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime  # timezone-aware UTC
    body: dict[str, Any]
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class SearchToken:
    """An indexed search value of a resource, e.g. ("identifier", "urn:oid:…", "110105…").

    ``system`` is None for plain tokens without a system; reference params use system=None and
    value="Patient/123". Values are stored only as keyed blind indexes, never in clear.
    """

    param: str
    system: str | None
    value: str


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """One identifier of a person, linked to the Patient that carries it."""

    system: str
    value: str
    patient_id: str
    created_at: datetime
    flagged: bool = False  # conflicting source data: kept for review, never merged silently
    note: str | None = None


@dataclass(frozen=True, slots=True)
class NewResource:
    """Version 1 of a resource for ``FhirRepository.create_many``: the body carries its id."""

    body: dict[str, Any]
    tokens: tuple[SearchToken, ...] = ()


@dataclass(frozen=True, slots=True)
class NewLink:
    """One identifier to link for ``IdentityStore.link_many``."""

    system: str
    value: str = field(repr=False)
    patient_id: str
    flagged: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """An inbound HL7 v2 message as received (raw bytes), with what became of it."""

    id: str
    sender: str
    control_id: str
    received_at: datetime
    raw: bytes
    message_type: str | None = None
    status: str = "received"  # received | processed | error | rejected
    ack: bytes | None = None
    patient_id: str | None = None
    error: str | None = None
    resources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event a hospital may need, written in the same transaction as the change it reports."""

    id: str
    topic: str  # e.g. patient.created, patient.merged
    destination: str  # hospital/destination code, or "*" before fan-out
    ordering_key: str  # usually Patient/<id>: delivery is ordered per (destination, ordering_key)
    payload: dict[str, Any]
    created_at: datetime
    status: str = "pending"  # pending | delivering | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    seq: int = 0  # monotonic insertion order, assigned by the store


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what to which patient, when, and how it ended (becomes a FHIR AuditEvent)."""

    id: str
    recorded_at: datetime
    agent: str  # client id, or "mllp:<sender>", or "system"
    action: str  # C R U D E (FHIR AuditEvent.action)
    operation: str  # e.g. "read Patient", "search Patient", "oauth token"
    outcome: str  # "0" success, "4" minor failure, "8" serious failure, "12" major failure
    patient_id: str | None = None
    resource: str | None = None  # e.g. Patient/123/_history/2
    source_ip: str | None = None
    request_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """A registered API client. The secret is stored only as a salted hash."""

    client_id: str
    name: str
    roles: tuple[str, ...]
    secret_hash: str
    created_at: datetime
    organization: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class SamplingTube:
    """A pooled sample tube at a nucleic-acid sampling point (adapter.sampling).

    ``filled`` counts members (positions 1..filled are taken); status open -> full -> closed; a lab
    result (positive | negative) is set after closing."""

    barcode: str
    round: str  # the testing campaign
    point: str  # the sampling point that opened it
    pool_size: int  # 5, 10 or 20: fixed by the first registration
    opened_at: datetime
    filled: int = 0
    status: str = "open"  # open | full | closed
    closed_at: datetime | None = None
    result: str | None = None  # positive | negative
    resulted_at: datetime | None = None
    seq: int = 0  # insertion order, assigned by the store


@dataclass(frozen=True, slots=True)
class SamplingRegistration:
    """One person bound to one position of one tube. (tube, position) and (tube, patient_id) are
    unique, and so is ``client_ref`` (the id an offline client gave the scan)."""

    id: str
    tube: str
    position: int
    patient_id: str
    round: str
    point: str
    registered_at: datetime
    actor: str  # the API client that registered it
    name_masked: str = ""  # 张* : shown to the worker; the name itself stays in the Patient
    client_ref: str | None = None
    scanned_at: datetime | None = None  # the client's clock (offline batches)


@dataclass(frozen=True, slots=True)
class SamplingPlacement:
    """What ``SamplingStore.place`` did. ``registration`` is the new one when ``created``; else the
    person's registration already in this tube (or the one stored under the same client_ref), or
    None when the tube refused (closed, another pool size or point, full): ``tube`` says why."""

    tube: SamplingTube
    registration: SamplingRegistration | None
    created: bool
    # For a new registration: whether the person is in another tube of the round too (found in the
    # same statement); None when not known (the caller asks ``tubes_of``).
    in_other_tubes: bool | None = None
