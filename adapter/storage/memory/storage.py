"""MemoryStorage: the Storage port in process memory, for unit tests and the demo.

Units of work are serialised by one lock and rolled back through an undo journal, which gives the
same all-or-nothing behaviour as a database transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from adapter.errors import ServiceUnavailable
from adapter.storage.memory.audit import MemoryAuditLog
from adapter.storage.memory.clients import MemoryClientStore
from adapter.storage.memory.identities import MemoryIdentityStore
from adapter.storage.memory.messages import MemoryMessageStore
from adapter.storage.memory.outbox import MemoryOutboxStore
from adapter.storage.memory.resources import MemoryFhirRepository
from adapter.storage.memory.sampling import MemorySamplingStore
from adapter.storage.memory.state import MemoryState, Tx
from adapter.storage.ports import (
    AuditLog,
    ClientStore,
    FhirRepository,
    IdentityStore,
    MessageStore,
    OutboxStore,
    SamplingStore,
    UnitOfWork,
)
from adapter.storage.shared import UtcClock, notify_outbox_listeners


class MemoryUnitOfWork:
    """Each store is typed as its port, so mypy checks the implementations against the Protocols."""

    __slots__ = ("audit", "clients", "identities", "messages", "outbox", "resources", "sampling")

    def __init__(self, tx: Tx) -> None:
        self.resources: FhirRepository = MemoryFhirRepository(tx)
        self.identities: IdentityStore = MemoryIdentityStore(tx)
        self.messages: MessageStore = MemoryMessageStore(tx)
        self.outbox: OutboxStore = MemoryOutboxStore(tx)
        self.audit: AuditLog = MemoryAuditLog(tx)
        self.clients: ClientStore = MemoryClientStore(tx)
        self.sampling: SamplingStore = MemorySamplingStore(tx)


class MemoryStorage:
    def __init__(self) -> None:
        self._state = MemoryState()
        self._clock = UtcClock()
        self._lock = asyncio.Lock()
        self._closed = False
        self._outbox_listeners: list[Callable[[], None]] = []

    @asynccontextmanager
    async def unit_of_work(
        self, *, read_only: bool = False, grouped: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        # grouped: nothing to share in memory (no commit to wait for); a plain unit.
        self._check_open()
        # Read-only units take the lock too: writers change the state in place (undo on failure),
        # so a reader must not see a half-done unit, just as SQL readers see committed data only.
        async with self._lock:
            tx = Tx(self._state, self._clock, read_only=read_only)
            uow = MemoryUnitOfWork(tx)
            try:
                yield uow
            except BaseException:
                tx.journal.rollback()  # also on cancellation: nothing of this unit persists
                raise
            finally:
                tx.end()
        if getattr(uow.outbox, "written", 0) and self._outbox_listeners:
            notify_outbox_listeners(self._outbox_listeners)

    def add_outbox_listener(self, listener: Callable[[], None]) -> None:
        """As ``SqlStorage.add_outbox_listener``: called after a unit that added outbox events."""
        self._outbox_listeners.append(listener)

    async def ping(self) -> None:
        self._check_open()

    async def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise ServiceUnavailable("the storage is closed")
