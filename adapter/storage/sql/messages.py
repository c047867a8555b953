"""MessageStore on SQL: raw bytes encrypted; (sender, control id) unique in clear (not personal data).

The gateway's hot path (``add``, ``get``, ``set_outcome``: every HL7 message) runs statements built
once per dialect with bind parameters, prepared (``prepared``: on SQLite the stdlib driver runs them
directly): building a SQLAlchemy construct per call and hashing it for the compiled cache, and then
SQLAlchemy's execution around it, cost several times the statement itself on SQLite."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Insert, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from adapter.errors import ResourceNotFound
from adapter.storage.records import StoredMessage
from adapter.storage.shared import new_key, utc
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.prepared import PreparedRead, PreparedRow, PreparedWrite
from adapter.storage.sql.schema import messages

M = messages.c
_ADD_COLUMNS = ("id", "sender", "control_id", "received_at", "message_type", "status", "raw", "resources")


def _add(dialect: Any) -> Insert:
    """INSERT … ON CONFLICT (sender, control_id) DO NOTHING RETURNING seq, in the dialect's form."""
    return cast(
        Insert,
        dialect.insert(messages)
        .values({name: bindparam(f"p_{name}", type_=M[name].type) for name in _ADD_COLUMNS})
        .on_conflict_do_nothing(index_elements=["sender", "control_id"])
        .returning(M.seq),
    )


_ADD: dict[str, PreparedWrite] = {
    "postgresql": PreparedWrite(_add(postgresql)),
    "sqlite": PreparedWrite(_add(sqlite)),
}
_GET = PreparedRead(select(messages).where(M.id == bindparam("p_id")))
_FIND = PreparedRead(
    select(messages).where(M.sender == bindparam("p_sender"), M.control_id == bindparam("p_control_id"))
)
_OUTCOME_COLUMNS = ("status", "ack", "patient_id", "error", "resources")
_SET_OUTCOME = PreparedWrite(
    update(messages)
    .where(M.id == bindparam("p_id"))
    .values({name: bindparam(f"p_{name}", type_=M[name].type) for name in _OUTCOME_COLUMNS})
    .returning(*messages.c)
)
# Takes the row's write lock (PostgreSQL: a concurrent claim waits for this transaction, then sees
# the ACK it committed and matches nothing; SQLite: one writer at a time anyway).
_CLAIM = PreparedWrite(
    update(messages)
    .where(M.id == bindparam("p_id"), M.ack.is_(None))
    .values(status=M.status)
    .returning(M.seq)
)


class SqlMessageStore:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def add(
        self, *, sender: str, control_id: str, raw: bytes, message_type: str | None = None
    ) -> tuple[StoredMessage, bool]:
        ctx = self._ctx
        message_id, now = new_key(), ctx.clock.now()
        params = {
            "p_id": message_id,
            "p_sender": sender,
            "p_control_id": control_id,
            "p_received_at": now,
            "p_message_type": message_type,
            "p_status": "received",
            "p_raw": ctx.seal(bytes(raw), f"message/{message_id}"),
            "p_resources": [],
        }
        statement = _ADD["postgresql" if ctx.is_postgres else "sqlite"]
        if await ctx.write(statement, params):
            return StoredMessage(message_id, sender, control_id, now, bytes(raw), message_type), True
        existing = await self.find(sender, control_id)
        if existing is None:  # cannot happen under read committed; be explicit if it ever does
            raise ResourceNotFound("the message clashed with one that is no longer there")
        return existing, False

    async def get(self, message_id: str) -> StoredMessage:
        rows = await self._ctx.fetch(_GET, {"p_id": message_id})
        if not rows:
            raise ResourceNotFound("no such message")
        return self._message(rows[0])

    async def find(self, sender: str, control_id: str) -> StoredMessage | None:
        params = {"p_sender": sender, "p_control_id": control_id}
        rows = await self._ctx.fetch(_FIND, params)
        return self._message(rows[0]) if rows else None

    async def claim(self, message_id: str) -> bool:
        return bool(await self._ctx.write(_CLAIM, {"p_id": message_id}))

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
        ctx = self._ctx
        params = {
            "p_id": message_id,
            "p_status": status,
            "p_ack": None if ack is None else ctx.seal(bytes(ack), f"message-ack/{message_id}"),
            "p_patient_id": patient_id,
            "p_error": ctx.seal_text(error, f"message-error/{message_id}"),
            "p_resources": list(resources),
        }
        rows = await ctx.write(_SET_OUTCOME, params)
        if not rows:
            raise ResourceNotFound("no such message")
        return self._message(rows[0])

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
        conditions: builtins.list[ColumnElement[bool]] = []
        for column, wanted in (
            (M.sender, sender),
            (M.message_type, message_type),
            (M.status, status),
            (M.patient_id, patient_id),
        ):
            if wanted is not None:
                conditions.append(column == wanted)
        if since is not None:
            conditions.append(M.received_at >= utc(since))
        if until is not None:
            conditions.append(M.received_at < utc(until))
        statement = select(messages).where(*conditions).order_by(M.seq.desc()).limit(limit)
        return [self._message(row) for row in await self._ctx.execute(statement)]

    async def prune(
        self, *, received_before: datetime | None = None, max_bytes: int | None = None, limit: int = 1000
    ) -> int:
        # Sizes are the stored (encrypted) raw blobs: what the database actually holds.
        ctx = self._ctx
        doomed: builtins.list[str] = []
        freed = 0
        if received_before is not None:
            old = (
                select(M.id, func.length(M.raw).label("size"))
                .where(M.status == "processed", M.received_at < utc(received_before))
                .order_by(M.seq)
                .limit(limit)
            )
            for row in await ctx.execute(old):
                doomed.append(row.id)
                freed += row.size
        if max_bytes is not None and len(doomed) < limit:
            total = (await ctx.execute(select(func.coalesce(func.sum(func.length(M.raw)), 0)))).scalar_one()
            excess = int(total) - freed - max_bytes
            if excess > 0:
                oldest = (
                    select(M.id, func.length(M.raw).label("size"))
                    .where(M.status == "processed", M.id.not_in(doomed))
                    .order_by(M.seq)
                    .limit(limit - len(doomed))
                )
                for row in await ctx.execute(oldest):
                    if excess <= 0:
                        break
                    doomed.append(row.id)
                    excess -= row.size
        for start in range(0, len(doomed), 500):  # bounded IN lists
            await ctx.execute(delete(messages).where(M.id.in_(doomed[start : start + 500])))
        return len(doomed)

    def _message(self, row: Row[Any] | PreparedRow) -> StoredMessage:
        ctx = self._ctx
        return StoredMessage(
            id=row.id,
            sender=row.sender,
            control_id=row.control_id,
            received_at=row.received_at,
            raw=ctx.open(row.raw, f"message/{row.id}"),
            message_type=row.message_type,
            status=row.status,
            ack=None if row.ack is None else ctx.open(row.ack, f"message-ack/{row.id}"),
            patient_id=row.patient_id,
            error=ctx.open_text(row.error, f"message-error/{row.id}"),
            resources=tuple(row.resources),
        )
