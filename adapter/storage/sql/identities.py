"""IdentityStore on SQL: the value is encrypted, its blind index is unique (one person per identifier)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, literal_column, select, update
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import BindParameter

from adapter.errors import DuplicateKey
from adapter.storage.records import IdentityLink, NewLink
from adapter.storage.shared import identity_key
from adapter.storage.sql.bulk import KEYS_PER_QUERY, chunks, driver_value, insert_rows
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.prepared import PreparedRead, PreparedWrite
from adapter.storage.sql.schema import identity_links, resource_versions, resources

L, R, V = identity_links.c, resources.c, resource_versions.c
_LINK_COLUMNS = ("value_hash", "system", "value", "patient_id", "created_at", "flagged", "note")
# Built once, with bind parameters: building a statement per lookup cost more than running it.
_BY_HASH = PreparedRead(select(identity_links).where(L.value_hash == bindparam("h")))
_HELD: dict[tuple[int, bool], PreparedRead] = {}


def _held_read(count: int, with_patients: bool) -> PreparedRead:
    """The links of ``count`` blind indexes (one statement per count, built once); ``with_patients``:
    each with its Patient's current row, read along (the resolve reads that Patient next)."""
    read = _HELD.get((count, with_patients))
    if read is None:
        hashes: list[BindParameter[Any]] = [bindparam(f"h{n}") for n in range(count)]
        columns = (L.value_hash, L.patient_id, L.created_at, L.flagged, L.note)
        statement = select(*columns).where(L.value_hash.in_(hashes))
        if with_patients:
            patient = and_(R.resource_type == literal_column("'Patient'"), R.resource_id == L.patient_id)
            current = and_(
                V.resource_type == R.resource_type,
                V.resource_id == R.resource_id,
                V.version_id == R.version_id,
            )
            statement = (
                select(
                    *columns, V.resource_type, V.resource_id, V.version_id, V.last_updated, V.deleted, V.body
                )
                .select_from(
                    identity_links.outerjoin(resources, patient).outerjoin(resource_versions, current)
                )
                .where(L.value_hash.in_(hashes))
            )
        read = _HELD[(count, with_patients)] = PreparedRead(statement)
    return read


_LINKS: dict[str, PreparedWrite] = {}


def _link_statement(ctx: SqlContext) -> PreparedWrite:
    """INSERT of one link that yields nothing when the identifier is linked already (built once)."""
    statement = _LINKS.get(ctx.dialect)
    if statement is None:
        statement = PreparedWrite(
            ctx.insert_ignoring(identity_links, "value_hash")
            .values(
                value_hash=bindparam("h"),
                system=bindparam("system"),
                value=bindparam("value", type_=L.value.type),
                patient_id=bindparam("pid"),
                created_at=bindparam("at", type_=L.created_at.type),
                flagged=bindparam("flagged", type_=L.flagged.type),
                note=bindparam("note", type_=L.note.type),
            )
            .returning(L.seq)
        )
        _LINKS[ctx.dialect] = statement
    return statement


class SqlIdentityStore:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def link(
        self, system: str, value: str, patient_id: str, *, flagged: bool = False, note: str | None = None
    ) -> IdentityLink:
        ctx = self._ctx
        value_hash = ctx.vault.blind_index(identity_key(system, value))
        now = ctx.clock.now()
        statement = _link_statement(ctx)
        params = {
            "h": value_hash,
            "system": system,
            "value": ctx.seal(value.encode("utf-8"), f"identity/{value_hash}"),
            "pid": patient_id,
            "at": now,
            "flagged": flagged,
            "note": ctx.seal_text(note, f"identity-note/{value_hash}"),
        }
        if await ctx.write(statement, params):
            return IdentityLink(system, value, patient_id, now, flagged, note)
        existing = await self._by_hash(value_hash)
        if existing is not None and existing.patient_id == patient_id:
            return existing
        raise DuplicateKey("this identifier is already linked to another patient")

    async def find(self, system: str, value: str) -> IdentityLink | None:
        return await self._by_hash(self._ctx.vault.blind_index(identity_key(system, value)))

    async def find_many(
        self, keys: Sequence[tuple[str, str]], *, read_ahead: bool = False
    ) -> dict[tuple[str, str], IdentityLink]:
        blind_index = self._ctx.vault.blind_index
        by_hash = {blind_index(identity_key(system, value)): (system, value) for system, value in keys}
        return await self._held(by_hash, read_ahead=read_ahead)

    async def link_many(self, links: Sequence[NewLink]) -> list[IdentityLink]:
        """Insert-or-ignore every link, then read back which patient holds each identifier."""
        ctx = self._ctx
        now = ctx.clock.now()
        at = driver_value(ctx, L.created_at, now)
        hashes = [ctx.vault.blind_index(identity_key(new.system, new.value)) for new in links]
        rows = [
            (
                value_hash,
                new.system,
                ctx.seal(new.value.encode("utf-8"), f"identity/{value_hash}"),
                new.patient_id,
                at,
                driver_value(ctx, L.flagged, new.flagged),
                ctx.seal_text(new.note, f"identity-note/{value_hash}"),
            )
            for new, value_hash in zip(links, hashes, strict=True)
        ]
        await insert_rows(ctx, identity_links, _LINK_COLUMNS, rows, ignore_conflict_on="value_hash")
        held = await self._held({h: (new.system, new.value) for h, new in zip(hashes, links, strict=True)})
        return [held[(new.system, new.value)] for new in links]

    async def _held(
        self, by_hash: dict[str, tuple[str, str]], *, read_ahead: bool = False
    ) -> dict[tuple[str, str], IdentityLink]:
        """The links of these blind indexes. The values are the caller's (the same hash is the same
        identifier), so nothing but notes needs decrypting. With ``read_ahead`` each owner's current
        Patient row comes along and waits in the unit for its next read (``SqlContext.read_ahead``)."""
        ctx = self._ctx
        found: dict[tuple[str, str], IdentityLink] = {}
        for chunk in chunks(list(by_hash), KEYS_PER_QUERY):
            params = {f"h{n}": value_hash for n, value_hash in enumerate(chunk)}
            for row in await ctx.fetch(_held_read(len(chunk), read_ahead), params):
                if read_ahead and row.resource_id is not None:
                    ctx.read_ahead("Patient", row.resource_id, row)
                system, value = by_hash[row.value_hash]
                note = self._ctx.open_text(row.note, f"identity-note/{row.value_hash}")
                found[(system, value)] = IdentityLink(
                    system, value, row.patient_id, row.created_at, row.flagged, note
                )
        return found

    async def links_for(self, patient_id: str) -> list[IdentityLink]:
        statement = select(identity_links).where(L.patient_id == patient_id).order_by(L.seq)
        return [self._link(row) for row in await self._ctx.execute(statement)]

    async def relink(self, from_patient_id: str, to_patient_id: str) -> int:
        statement = (
            update(identity_links)
            .where(L.patient_id == from_patient_id)
            .values(patient_id=to_patient_id)
            .returning(L.seq)
        )
        return len((await self._ctx.execute(statement)).all())

    async def move(self, system: str, value: str, to_patient_id: str) -> IdentityLink | None:
        value_hash = self._ctx.vault.blind_index(identity_key(system, value))
        statement = (
            update(identity_links)
            .where(L.value_hash == value_hash)
            .values(patient_id=to_patient_id)
            .returning(L.seq)
        )
        if (await self._ctx.execute(statement)).first() is None:
            return None
        return await self._by_hash(value_hash)

    async def _by_hash(self, value_hash: str) -> IdentityLink | None:
        rows = await self._ctx.fetch(_BY_HASH, {"h": value_hash})
        return self._link(rows[0]) if rows else None

    def _link(self, row: Row[Any]) -> IdentityLink:
        ctx = self._ctx
        return IdentityLink(
            system=row.system,
            value=ctx.open(row.value, f"identity/{row.value_hash}").decode("utf-8"),
            patient_id=row.patient_id,
            created_at=row.created_at,
            flagged=row.flagged,
            note=ctx.open_text(row.note, f"identity-note/{row.value_hash}"),
        )
