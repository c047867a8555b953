"""The memory store's tables, and the transaction every store of one unit of work shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapter.storage.memory.journal import Journal
from adapter.storage.memory.sampling import SamplingTables
from adapter.storage.records import AuditRecord, ClientRecord, IdentityLink, OutboxEvent, StoredMessage
from adapter.storage.shared import UtcClock


@dataclass(frozen=True, slots=True)
class Version:
    """One stored version; the body is kept as JSON bytes so readers always get a fresh dict,
    exactly as the SQL store decodes one."""

    resource_id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    body: bytes


@dataclass
class MemoryState:
    # resource type -> id -> versions (oldest first; the last one is current)
    versions: dict[str, dict[str, list[Version]]] = field(default_factory=dict)
    # (resource type, param, key) -> ids ; (resource type, id) -> what it is indexed under
    index: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    indexed: dict[tuple[str, str], frozenset[tuple[str, str]]] = field(default_factory=dict)
    links: dict[str, IdentityLink] = field(default_factory=dict)  # identity key -> link
    messages: dict[str, StoredMessage] = field(default_factory=dict)  # insertion order = arrival
    message_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (sender, control id) -> id
    outbox: dict[str, OutboxEvent] = field(default_factory=dict)  # insertion order = seq
    audit: list[AuditRecord] = field(default_factory=list)
    audit_ids: set[str] = field(default_factory=set)
    clients: dict[str, ClientRecord] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    sampling: SamplingTables = field(default_factory=SamplingTables)


class Tx:
    """What the stores of one unit of work share: the state, its undo journal and the clock."""

    __slots__ = ("_active", "clock", "journal", "state")

    def __init__(self, state: MemoryState, clock: UtcClock, *, read_only: bool = False) -> None:
        self.state = state
        self.clock = clock
        self.journal = Journal(read_only=read_only)
        self._active = True

    def check(self) -> MemoryState:
        if not self._active:
            raise RuntimeError("the unit of work has ended; open a new one")
        return self.state

    def end(self) -> None:
        self._active = False

    def next_seq(self, name: str) -> int:
        value = self.state.counters.get(name, 0) + 1
        self.journal.put(self.state.counters, name, value)
        return value
