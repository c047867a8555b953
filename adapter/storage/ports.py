"""Storage ports. Handlers talk to these Protocols only; never to SQL or Redis directly.

Every port has an in-memory implementation (``adapter.storage.memory``) and a SQL one
(``adapter.storage.sql``) that behave alike: same uniqueness, same errors, same version numbers.
One contract suite (tests/contract) runs against memory, SQLite and PostgreSQL.

Writes happen inside a unit of work: everything done through ``uow`` commits together or not at all,
so an outbox event or an audit record never exists without the change it reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from adapter.storage.records import (
    AuditRecord,
    ClientRecord,
    IdentityLink,
    NewLink,
    NewResource,
    OutboxEvent,
    SamplingPlacement,
    SamplingRegistration,
    SamplingTube,
    SearchToken,
    StoredMessage,
    StoredResource,
)


class ReadOnlyViolation(RuntimeError):
    """A write was attempted in a read-only unit of work. Callers that try the cheap read-only path
    first (a known person at a scan) catch it and redo the work as a writer."""


class FhirRepository(Protocol):
    """Versioned FHIR resources. Version ids are 1, 2, 3… per resource.

    Errors: ResourceNotFound (no such id/version), ResourceGone (deleted), VersionConflict (stale
    If-Match), DuplicateKey (create with an id that exists), MultipleMatches (conditional create).
    """

    async def create(
        self,
        body: dict[str, Any],
        *,
        tokens: Sequence[SearchToken] = (),
        if_none_exist: Sequence[SearchToken] = (),
    ) -> tuple[StoredResource, bool]:
        """Store version 1 (id assigned when body has none). Returns (resource, created).

        With ``if_none_exist``: when exactly one resource of the type matches all tokens, return it
        with created=False and write nothing; more than one raises MultipleMatches.
        """
        ...

    async def create_many(self, items: Sequence[NewResource]) -> int:
        """Bulk create: version 1 of each resource, with its tokens, exactly as ``create`` would
        store it (same encryption and blind indexes), in few statements. Every body must carry a
        new id; DuplicateKey when one exists (the unit of work is then unusable: roll it back).
        Returns how many were stored."""
        ...

    async def read(self, resource_type: str, resource_id: str) -> StoredResource: ...

    async def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        """One version; ResourceGone when that version is a deletion."""
        ...

    async def update(
        self,
        body: dict[str, Any],
        *,
        tokens: Sequence[SearchToken] = (),
        if_match: int | None = None,
    ) -> tuple[StoredResource, bool]:
        """Store the next version (or version 1 when the id is new: update-as-create).

        Returns (resource, created). ``if_match`` must equal the current version or VersionConflict
        (also when the id does not exist yet: the caller expected a version that is not there).
        """
        ...

    async def search(
        self,
        resource_type: str,
        criteria: Sequence[SearchToken],
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredResource]:
        """Current versions that match every criterion (AND). A criterion with system=None matches
        the value under any system; system="" matches tokens stored without a system (FHIR ``|value``).
        Deleted resources never match. Ordered by last update, newest first (then id, descending)."""
        ...

    async def current_version(self, resource_type: str, resource_id: str) -> int | None:
        """The current version id of a live resource, None when there is none or it is deleted.
        Reads no body: a cheap check that what a caller read before is still current."""
        ...

    async def search_versions(
        self, resource_type: str, criteria: Sequence[SearchToken], *, limit: int = 100
    ) -> list[tuple[str, int]]:
        """(id, version id) of each resource ``search`` would return, in its order, reading no body."""
        ...

    async def history(self, resource_type: str, resource_id: str) -> list[StoredResource]:
        """All versions, newest first (deleted versions included, with deleted=True)."""
        ...

    async def delete(self, resource_type: str, resource_id: str) -> StoredResource:
        """Record a deleted version and drop the resource from search. Afterwards read raises
        ResourceGone, history keeps every version, and an update revives the resource with the next
        version. Deleting a deleted resource writes nothing and returns its deleted version.
        ResourceNotFound when the id never existed."""
        ...


class IdentityStore(Protocol):
    """The identity index: (system, value) -> Patient id. One person per identifier, enforced."""

    async def link(
        self, system: str, value: str, patient_id: str, *, flagged: bool = False, note: str | None = None
    ) -> IdentityLink:
        """Link an identifier. DuplicateKey if it is already linked to another patient;
        linking it again to the same patient returns the existing link."""
        ...

    async def find(self, system: str, value: str) -> IdentityLink | None: ...

    async def find_many(
        self, keys: Sequence[tuple[str, str]], *, read_ahead: bool = False
    ) -> dict[tuple[str, str], IdentityLink]:
        """``find`` for many (system, value) keys at once; keys not linked are left out.
        ``read_ahead``: a hint that the caller reads the owners' Patients next in this unit; a SQL
        store reads them in the same statement (one round trip less per scan), the memory store
        ignores it. Either way ``resources.read`` answers as it would have."""
        ...

    async def link_many(self, links: Sequence[NewLink]) -> list[IdentityLink]:
        """Bulk ``link``, in order. For each input, the link that holds afterwards: the new one, or
        the existing one. An identifier already linked to another patient is reported (the returned
        link's patient_id differs from the requested one), never overwritten and never an error."""
        ...

    async def links_for(self, patient_id: str) -> list[IdentityLink]: ...

    async def relink(self, from_patient_id: str, to_patient_id: str) -> int:
        """Move every link of one patient to another (merge). Returns how many moved."""
        ...

    async def move(self, system: str, value: str, to_patient_id: str) -> IdentityLink | None:
        """Move one link to another patient (unmerge puts back exactly the links a merge moved).
        None when the identifier is not linked."""
        ...


class MessageStore(Protocol):
    """Inbound HL7 v2 messages, stored raw before any ACK. (sender, control_id) is unique."""

    async def add(
        self, *, sender: str, control_id: str, raw: bytes, message_type: str | None = None
    ) -> tuple[StoredMessage, bool]:
        """Store a message. Returns (message, created); a repeated (sender, control_id) returns the
        first stored one with created=False."""
        ...

    async def get(self, message_id: str) -> StoredMessage: ...

    async def find(self, sender: str, control_id: str) -> StoredMessage | None: ...

    async def claim(self, message_id: str) -> bool:
        """True when the message has no ACK yet, and then it is this unit of work's to execute: a
        concurrent unit (another process) claiming it waits until this one ends, and gets False if
        this one stored an ACK. Execute-once for a stored message run after its CA."""
        ...

    async def set_outcome(
        self,
        message_id: str,
        *,
        status: str,
        ack: bytes | None,
        patient_id: str | None = None,
        error: str | None = None,
        resources: Sequence[str] = (),
    ) -> StoredMessage: ...

    async def list(
        self,
        *,
        sender: str | None = None,
        message_type: str | None = None,
        status: str | None = None,
        patient_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredMessage]:
        """Newest first."""
        ...

    async def prune(
        self, *, received_before: datetime | None = None, max_bytes: int | None = None, limit: int = 1000
    ) -> int:
        """Delete processed messages, oldest first: every one received before ``received_before``, then
        more while the raw bytes of all stored messages (as stored) exceed ``max_bytes``. Messages in
        any other status (received, error, rejected) are never deleted. At most ``limit`` per call;
        returns how many were deleted."""
        ...


class OutboxStore(Protocol):
    """Transactional outbox: events are added in the unit of work of the change they report."""

    async def add(
        self, *, topic: str, destination: str, ordering_key: str, payload: dict[str, Any]
    ) -> OutboxEvent: ...

    async def add_many(
        self, *, topic: str, ordering_key: str, payload: dict[str, Any], destinations: Sequence[str]
    ) -> int:
        """The same event for each destination, in that order (a fan-out). Returns how many."""
        ...

    async def get(self, event_id: str) -> OutboxEvent: ...

    async def claim(self, *, limit: int, now: datetime, lease_s: float) -> list[OutboxEvent]:
        """Take due events for delivery: at most one in flight per (destination, ordering_key), the
        oldest of each key first; claimed events are leased (status delivering) until ``lease_s``."""
        ...

    async def mark_delivered(self, event_id: str, *, attempt: int | None = None) -> OutboxEvent:
        """With ``attempt`` (the claimed event's attempts): only while that claim still holds, i.e.
        the event is delivering with that attempt number; else VersionConflict (its lease expired and
        another dispatcher claimed it). The fence makes a fan-out happen once."""
        ...

    async def mark_delivered_many(self, claims: Sequence[tuple[str, int]]) -> set[str]:
        """Fenced mark_delivered of many (event id, attempt) claims at once; returns the ids marked
        (those whose claim still held). Unknown ids are skipped."""
        ...

    async def mark_failed(
        self, event_id: str, *, error: str, retry_at: datetime | None, attempt: int | None = None
    ) -> OutboxEvent:
        """Record a failed attempt; retry_at None = dead letter. ``attempt``: as for mark_delivered."""
        ...

    async def retry(self, event_id: str) -> OutboxEvent:
        """A dead event becomes pending again, due now, attempts back to 0 (last_error kept).
        VersionConflict when the event is not dead."""
        ...

    async def counts(self) -> dict[str, int]:
        """How many events are in each status (statuses with none are left out)."""
        ...

    async def list(
        self, *, status: str | None = None, destination: str | None = None, limit: int = 100
    ) -> list[OutboxEvent]:
        """Oldest first (by seq)."""
        ...


class AuditLog(Protocol):
    """Append-only record of every access to personal data."""

    async def record(self, record: AuditRecord) -> None: ...

    async def record_many(self, records: Sequence[AuditRecord]) -> None:
        """Write each record whose id is not written yet: a retried batch writes nothing twice."""
        ...

    async def search(
        self, *, patient_id: str | None = None, agent: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """Newest first."""
        ...


class ClientStore(Protocol):
    """Registered API clients (hashed secrets)."""

    async def add(self, client: ClientRecord) -> None:
        """DuplicateKey when the client id exists."""
        ...

    async def get(self, client_id: str) -> ClientRecord | None: ...

    async def list(self) -> list[ClientRecord]: ...


class SamplingStore(Protocol):
    """Pooled sample tubes and the people bound to them (adapter.sampling).

    Registrations into one tube queue behind ``place`` (or ``lock_tube``/``open_tube``): a row lock
    on PostgreSQL, the single writer on SQLite, the store lock in memory; so positions are handed
    out one by one.
    Uniqueness of (tube, position), (tube, patient) and client_ref is also enforced by the store:
    DuplicateKey (a backstop; the unit of work is then unusable)."""

    async def open_tube(self, *, barcode: str, round: str, point: str, pool_size: int) -> SamplingTube:
        """Create the tube when it is new; return it as stored (an existing tube is never changed),
        locked until the unit of work ends."""
        ...

    async def lock_tube(self, barcode: str) -> SamplingTube | None:
        """The tube, locked until the unit of work ends; None when unknown."""
        ...

    async def get_tube(self, barcode: str) -> SamplingTube | None: ...

    async def add(self, registration: SamplingRegistration) -> SamplingRegistration:
        """Store a registration at its position and count it in its tube (status full when the
        tube's filled count reaches its pool size)."""
        ...

    async def place(self, registration: SamplingRegistration, *, pool_size: int) -> SamplingPlacement:
        """Bind ``registration``'s person into its tube at the next position, in few statements (the
        hot path of a scan): the tube is created when new (round, point from the registration, this
        pool size), else it must be open, not full, of this pool size and point. The stored
        registration takes the tube's round and the position; ``position`` given is ignored. The
        same person in this tube, or a client_ref already stored, writes nothing and returns that
        registration; a tube that refuses writes nothing and returns registration None. A new
        registration says whether the person is in another tube of the round (``in_other_tubes``),
        so the common scan needs no ``tubes_of``."""
        ...

    async def by_client_refs(self, client_refs: Sequence[str]) -> dict[str, SamplingRegistration]:
        """The stored registrations among these client_refs (an offline batch's lines), by client_ref."""
        ...

    async def set_status(self, barcode: str, status: str, *, at: datetime) -> SamplingTube:
        """open | full | closed; closing records closed_at. ResourceNotFound for an unknown tube."""
        ...

    async def set_result(self, barcode: str, result: str, *, at: datetime) -> SamplingTube: ...

    async def member(self, tube: str, patient_id: str) -> SamplingRegistration | None: ...

    async def by_client_ref(self, client_ref: str) -> SamplingRegistration | None: ...

    async def members(self, tube: str) -> list[SamplingRegistration]:
        """By position."""
        ...

    async def tubes_of(self, patient_id: str, round: str) -> list[str]:
        """Barcodes of the tubes of ``round`` the person is registered in, oldest first."""
        ...

    async def list_tubes(
        self,
        *,
        status: str | None = None,
        round: str | None = None,
        result: str | None = None,
        closed_since: datetime | None = None,
        limit: int = 100,
    ) -> list[SamplingTube]:
        """Oldest first (by seq); ``closed_since`` keeps tubes closed at or after it."""
        ...


class UnitOfWork(Protocol):
    """One transaction across every store. Leaving the block normally commits; an exception rolls
    everything back and propagates."""

    resources: FhirRepository
    identities: IdentityStore
    messages: MessageStore
    outbox: OutboxStore
    audit: AuditLog
    clients: ClientStore
    sampling: SamplingStore


class Storage(Protocol):
    """A database: opens units of work; knows its own health."""

    def unit_of_work(
        self, *, read_only: bool = False, grouped: bool = False
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        """A read-only unit sees committed data only and refuses writes (RuntimeError); on SQLite it
        does not queue behind writers, so reads run concurrently with them.

        ``grouped``: a write unit that may share one transaction and one commit with the grouped
        units running at the same time (SQLite's group commit, ``storage/sql/sqlite_loop.py``).
        The guarantees do not change: leaving the block normally means this unit is committed; an
        exception rolls back this unit alone. What changes: it sees the effects of the group's
        earlier units, and a failed group commit fails it too. Elsewhere it is a plain unit."""
        ...

    async def ping(self) -> None:
        """Raise ServiceUnavailable when the database does not answer."""
        ...

    async def close(self) -> None: ...
