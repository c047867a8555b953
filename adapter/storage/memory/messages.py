"""MessageStore in memory: raw inbound HL7 v2, unique per (sender, control id)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from adapter.errors import ResourceNotFound
from adapter.storage.memory.state import Tx
from adapter.storage.records import StoredMessage
from adapter.storage.shared import new_key, utc


class MemoryMessageStore:
    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    async def add(
        self, *, sender: str, control_id: str, raw: bytes, message_type: str | None = None
    ) -> tuple[StoredMessage, bool]:
        state = self._tx.check()
        existing = state.message_ids.get((sender, control_id))
        if existing is not None:
            return state.messages[existing], False
        message = StoredMessage(
            id=new_key(),
            sender=sender,
            control_id=control_id,
            received_at=self._tx.clock.now(),
            raw=bytes(raw),
            message_type=message_type,
        )
        self._tx.journal.put(state.messages, message.id, message)
        self._tx.journal.put(state.message_ids, (sender, control_id), message.id)
        return message, True

    async def get(self, message_id: str) -> StoredMessage:
        message = self._tx.check().messages.get(message_id)
        if message is None:
            raise ResourceNotFound("no such message")
        return message

    async def find(self, sender: str, control_id: str) -> StoredMessage | None:
        state = self._tx.check()
        message_id = state.message_ids.get((sender, control_id))
        return None if message_id is None else state.messages[message_id]

    async def claim(self, message_id: str) -> bool:
        return (await self.get(message_id)).ack is None  # units of work run one at a time here

    async def set_outcome(
        self,
        message_id: str,
        *,
        status: str,
        ack: bytes | None,
        patient_id: str | None = None,
        error: str | None = None,
        resources: Sequence[str] = (),
    ) -> StoredMessage:
        message = await self.get(message_id)
        updated = replace(
            message,
            status=status,
            ack=None if ack is None else bytes(ack),
            patient_id=patient_id,
            error=error,
            resources=tuple(resources),
        )
        self._tx.journal.put(self._tx.state.messages, message_id, updated)
        return updated

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
    ) -> builtins.list[StoredMessage]:
        start = None if since is None else utc(since)
        end = None if until is None else utc(until)
        found: builtins.list[StoredMessage] = []
        for message in reversed(self._tx.check().messages.values()):
            if len(found) >= limit:
                break
            if (
                (sender is None or message.sender == sender)
                and (message_type is None or message.message_type == message_type)
                and (status is None or message.status == status)
                and (patient_id is None or message.patient_id == patient_id)
                and (start is None or message.received_at >= start)
                and (end is None or message.received_at < end)
            ):
                found.append(message)
        return found

    async def prune(
        self, *, received_before: datetime | None = None, max_bytes: int | None = None, limit: int = 1000
    ) -> int:
        state = self._tx.check()
        cutoff = None if received_before is None else utc(received_before)
        processed = [m for m in state.messages.values() if m.status == "processed"]  # oldest first
        doomed = [m for m in processed if cutoff is not None and m.received_at < cutoff][:limit]
        if max_bytes is not None:
            excess = sum(len(m.raw) for m in state.messages.values()) - max_bytes
            excess -= sum(len(m.raw) for m in doomed)
            chosen = {m.id for m in doomed}
            for message in processed:
                if excess <= 0 or len(doomed) >= limit:
                    break
                if message.id not in chosen:
                    doomed.append(message)
                    excess -= len(message.raw)
        self._tx.journal.pop_many(state.messages, [m.id for m in doomed])
        self._tx.journal.pop_many(state.message_ids, [(m.sender, m.control_id) for m in doomed])
        return len(doomed)
