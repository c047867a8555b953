"""ClientStore in memory."""

from __future__ import annotations

import builtins
from dataclasses import replace

from adapter.errors import DuplicateKey
from adapter.storage.memory.state import Tx
from adapter.storage.records import ClientRecord
from adapter.storage.shared import utc


class MemoryClientStore:
    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    async def add(self, client: ClientRecord) -> None:
        clients = self._tx.check().clients
        if client.client_id in clients:
            raise DuplicateKey("a client with this id exists")
        stored = replace(client, roles=tuple(client.roles), created_at=utc(client.created_at))
        self._tx.journal.put(clients, client.client_id, stored)

    async def get(self, client_id: str) -> ClientRecord | None:
        return self._tx.check().clients.get(client_id)

    async def list(self) -> builtins.list[ClientRecord]:
        clients = self._tx.check().clients
        return [clients[key] for key in sorted(clients)]
