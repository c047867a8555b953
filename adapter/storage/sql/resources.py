"""FhirRepository on SQL: a current-version row per resource, every version encrypted beside it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import BindParameter

from adapter.errors import (
    DuplicateKey,
    MultipleMatches,
    ResourceGone,
    ResourceNotFound,
    VersionConflict,
)
from adapter.json_codec import dump_json, load_json
from adapter.storage.records import NewResource, SearchToken, StoredResource
from adapter.storage.shared import (
    body_id,
    criteria_keys,
    resource_type_of,
    stamp,
    token_keys,
    tombstone,
)
from adapter.storage.sql.bulk import create_many, insert_rows
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.prepared import PreparedRead, PreparedWrite
from adapter.storage.sql.schema import resource_versions, resources, search_tokens

R, V, T = resources.c, resource_versions.c, search_tokens.c
_JOIN = resources.join(
    resource_versions,
    and_(V.resource_type == R.resource_type, V.resource_id == R.resource_id, V.version_id == R.version_id),
)
_CURRENT = select(
    V.resource_type, V.resource_id, V.version_id, V.last_updated, V.deleted, V.body
).select_from(_JOIN)

# Statements of the request paths are built once, with bind parameters: building one per call cost
# several times its execution (measured: 190 -> 37 µs per identity lookup on SQLite).
_READ = PreparedRead(_CURRENT.where(R.resource_type == bindparam("rt"), R.resource_id == bindparam("rid")))
_VERSION = PreparedRead(
    select(R.version_id, R.deleted).where(
        R.resource_type == bindparam("rt"), R.resource_id == bindparam("rid")
    )
)
_VERSIONS_ONLY = select(R.resource_id, R.version_id).select_from(resources)
_SEARCHES: dict[tuple[bool, tuple[int, ...], bool], PreparedRead] = {}


def _search_statement(postgres: bool, shape: tuple[int, ...], *, versions_only: bool = False) -> PreparedRead:
    """The search for criteria of this shape (how many keys each criterion has), built once; with
    ``versions_only`` it selects ids and version ids from the current-version rows alone."""
    found = _SEARCHES.get((postgres, shape, versions_only))
    if found is not None:
        return found
    conditions: list[ColumnElement[bool]] = [R.resource_type == bindparam("rt"), R.deleted.is_(False)]
    for n, count in enumerate(shape):
        hashes: list[BindParameter[Any]] = [bindparam(f"h{n}_{k}") for k in range(count)]
        matching = select(T.resource_id).where(
            T.resource_type == bindparam("rt"),
            T.param == bindparam(f"p{n}"),
            T.hash == hashes[0] if count == 1 else T.hash.in_(hashes),
        )
        conditions.append(R.resource_id.in_(matching))
    order: tuple[ColumnElement[Any], ...] = (R.last_updated.desc(), R.resource_id.desc())
    if shape and not postgres:
        # SQLite would walk the (type, last_updated) index in order and probe the token subquery
        # row by row: a lookup then costs more as the table grows. A unary + keeps the index out
        # of the ordering, so the planner starts from the selective token index and sorts the few
        # matches (measured: 4.7 ms -> 0.012 ms at 20,000 patients).
        order = (
            literal_column(f"+{resources.name}.last_updated").desc(),
            literal_column(f"+{resources.name}.resource_id").desc(),
        )
    limit = bindparam("limit", type_=Integer)
    offset = bindparam("offset", type_=Integer)
    base = _VERSIONS_ONLY if versions_only else _CURRENT
    statement = base.where(*conditions).order_by(*order).limit(limit).offset(offset)
    read = _SEARCHES[(postgres, shape, versions_only)] = PreparedRead(statement)
    return read


_VERSION_COLUMNS = ("resource_type", "resource_id", "version_id", "last_updated", "deleted", "body")
_INSERT_VERSION = PreparedWrite(
    insert(resource_versions).values(
        {name: bindparam(name, type_=resource_versions.c[name].type) for name in _VERSION_COLUMNS}
    )
)
_DELETE_TOKENS = PreparedWrite(
    delete(search_tokens).where(T.resource_type == bindparam("rt"), T.resource_id == bindparam("rid"))
)
_TOKEN_COLUMNS = ("resource_type", "param", "hash", "resource_id")
_INSERTS_CURRENT: dict[str, PreparedWrite] = {}
_BUMPS: dict[tuple[bool, bool], PreparedWrite] = {}


def _insert_current(ctx: SqlContext) -> PreparedWrite:
    """INSERT of a new current-version row that yields nothing on a clash (per dialect, built once)."""
    statement = _INSERTS_CURRENT.get(ctx.dialect)
    if statement is None:
        statement = PreparedWrite(
            ctx.insert_ignoring(resources, "resource_type", "resource_id")
            .values(
                resource_type=bindparam("rt"),
                resource_id=bindparam("rid"),
                version_id=1,
                last_updated=bindparam("at", type_=R.last_updated.type),
                deleted=False,
            )
            .returning(R.version_id)
        )
        _INSERTS_CURRENT[ctx.dialect] = statement
    return statement


def _bump_statement(if_match: bool, live_only: bool) -> PreparedWrite:
    statement = _BUMPS.get((if_match, live_only))
    if statement is None:
        built = update(resources).where(R.resource_type == bindparam("rt"), R.resource_id == bindparam("rid"))
        if if_match:
            built = built.where(R.version_id == bindparam("if_match"))
        if live_only:
            built = built.where(R.deleted.is_(False))
        statement = PreparedWrite(
            built.values(
                version_id=R.version_id + 1,
                last_updated=bindparam("at", type_=R.last_updated.type),
                deleted=bindparam("deleted", type_=R.deleted.type),
            ).returning(R.version_id)
        )
        _BUMPS[(if_match, live_only)] = statement
    return statement


class SqlFhirRepository:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def create(
        self,
        body: dict[str, Any],
        *,
        tokens: Sequence[SearchToken] = (),
        if_none_exist: Sequence[SearchToken] = (),
    ) -> tuple[StoredResource, bool]:
        resource_type = resource_type_of(body)
        if if_none_exist:
            await self._serialise_condition(resource_type, if_none_exist)
            matches = await self.search(resource_type, if_none_exist, limit=2)
            if len(matches) > 1:
                raise MultipleMatches()
            if matches:
                return matches[0], False
        resource_id = body_id(body, required=False)
        now = self._ctx.clock.now()
        if not await self._insert_current(resource_type, resource_id, now):
            raise DuplicateKey("a resource with this id already exists")
        return await self._write(resource_type, resource_id, 1, now, body, tokens, deleted=False), True

    async def create_many(self, items: Sequence[NewResource]) -> int:
        return await create_many(self._ctx, items)

    async def read(self, resource_type: str, resource_id: str) -> StoredResource:
        row = self._ctx.take_read_ahead(resource_type, resource_id)  # read along by find_many
        if row is None:
            rows = await self._ctx.fetch(_READ, {"rt": resource_type, "rid": resource_id})
            if not rows:
                raise ResourceNotFound()
            row = rows[0]
        if row.deleted:
            raise ResourceGone()
        return self._stored(row)

    async def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        statement = select(resource_versions).where(
            V.resource_type == resource_type, V.resource_id == resource_id, V.version_id == version_id
        )
        row = (await self._ctx.execute(statement)).first()
        if row is None:
            raise ResourceNotFound("no such version")
        if row.deleted:
            raise ResourceGone()
        return self._stored(row)

    async def update(
        self,
        body: dict[str, Any],
        *,
        tokens: Sequence[SearchToken] = (),
        if_match: int | None = None,
    ) -> tuple[StoredResource, bool]:
        resource_type = resource_type_of(body)
        resource_id = body_id(body, required=True)
        now = self._ctx.clock.now()
        version_id = await self._bump(resource_type, resource_id, now, if_match=if_match, deleted=False)
        created = False
        if version_id is None:
            if if_match is not None:
                raise VersionConflict()  # stale, or a version was expected where there is none
            created = await self._insert_current(resource_type, resource_id, now)
            # Not created: another transaction created it meanwhile (PostgreSQL); update that.
            version_id = 1 if created else await self._bump(resource_type, resource_id, now, deleted=False)
            if version_id is None:
                raise VersionConflict()
        stored = await self._write(resource_type, resource_id, version_id, now, body, tokens, deleted=False)
        return stored, created

    async def delete(self, resource_type: str, resource_id: str) -> StoredResource:
        now = self._ctx.clock.now()
        version_id = await self._bump(resource_type, resource_id, now, deleted=True, live_only=True)
        if version_id is None:
            statement = _CURRENT.where(R.resource_type == resource_type, R.resource_id == resource_id)
            row = (await self._ctx.execute(statement)).first()
            if row is None:
                raise ResourceNotFound()
            return self._stored(row)  # already deleted: nothing to write
        body = tombstone(resource_type, resource_id)
        return await self._write(resource_type, resource_id, version_id, now, body, (), deleted=True)

    async def search(
        self,
        resource_type: str,
        criteria: Sequence[SearchToken],
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredResource]:
        read, params = self._search(resource_type, criteria, limit, offset, versions_only=False)
        return [self._stored(row) for row in await self._ctx.fetch(read, params)]

    async def current_version(self, resource_type: str, resource_id: str) -> int | None:
        rows = await self._ctx.fetch(_VERSION, {"rt": resource_type, "rid": resource_id})
        if not rows or rows[0].deleted:
            return None
        return int(rows[0].version_id)

    async def search_versions(
        self, resource_type: str, criteria: Sequence[SearchToken], *, limit: int = 100
    ) -> list[tuple[str, int]]:
        read, params = self._search(resource_type, criteria, limit, 0, versions_only=True)
        return [(row.resource_id, int(row.version_id)) for row in await self._ctx.fetch(read, params)]

    def _search(
        self,
        resource_type: str,
        criteria: Sequence[SearchToken],
        limit: int,
        offset: int,
        *,
        versions_only: bool,
    ) -> tuple[PreparedRead, dict[str, Any]]:
        keyed = criteria_keys(criteria)
        shape = tuple(len(keys) for _, keys in keyed)
        params: dict[str, Any] = {"rt": resource_type, "limit": limit, "offset": offset}
        blind_index = self._ctx.vault.blind_index
        for n, (param, keys) in enumerate(keyed):
            params[f"p{n}"] = param
            for k, key in enumerate(keys):
                params[f"h{n}_{k}"] = blind_index(key)
        return _search_statement(self._ctx.is_postgres, shape, versions_only=versions_only), params

    async def history(self, resource_type: str, resource_id: str) -> list[StoredResource]:
        statement = (
            select(resource_versions)
            .where(V.resource_type == resource_type, V.resource_id == resource_id)
            .order_by(V.version_id.desc())
        )
        rows = [self._stored(row) for row in await self._ctx.execute(statement)]
        if not rows:
            raise ResourceNotFound()
        return rows

    async def _insert_current(self, resource_type: str, resource_id: str, now: datetime) -> bool:
        params = {"rt": resource_type, "rid": resource_id, "at": now}
        return bool(await self._ctx.write(_insert_current(self._ctx), params))

    async def _bump(
        self,
        resource_type: str,
        resource_id: str,
        now: datetime,
        *,
        deleted: bool,
        if_match: int | None = None,
        live_only: bool = False,
    ) -> int | None:
        """Advance the current version in one statement (it row-locks on PostgreSQL, so concurrent
        updates queue and each gets the next number). None when no row qualifies."""
        params: dict[str, Any] = {"rt": resource_type, "rid": resource_id, "at": now, "deleted": deleted}
        if if_match is not None:
            params["if_match"] = if_match
        statement = _bump_statement(if_match is not None, live_only)
        rows = await self._ctx.write(statement, params)
        return int(rows[0].version_id) if rows else None

    async def _write(
        self,
        resource_type: str,
        resource_id: str,
        version_id: int,
        now: datetime,
        body: dict[str, Any],
        tokens: Sequence[SearchToken],
        *,
        deleted: bool,
    ) -> StoredResource:
        ctx = self._ctx
        stamped = stamp(body, resource_id=resource_id, version_id=version_id, last_updated=now)
        aad = f"{resource_type}/{resource_id}/{version_id}"
        raw = dump_json(stamped)
        version = {
            "resource_type": resource_type,
            "resource_id": resource_id,
            "version_id": version_id,
            "last_updated": now,
            "deleted": deleted,
            "body": ctx.seal(raw, aad),
        }
        await ctx.write(_INSERT_VERSION, version)
        if version_id > 1:
            await ctx.write(_DELETE_TOKENS, {"rt": resource_type, "rid": resource_id})
        blind_index = ctx.vault.blind_index
        rows = [
            (resource_type, param, blind_index(key), resource_id) for param, key in sorted(token_keys(tokens))
        ]
        if rows:
            await insert_rows(ctx, search_tokens, _TOKEN_COLUMNS, rows)
        # The caller gets a fresh decoded copy, as a later read would (and as the memory store gives).
        return StoredResource(resource_type, resource_id, version_id, now, load_json(raw), deleted)

    async def _serialise_condition(self, resource_type: str, criteria: Sequence[SearchToken]) -> None:
        """On PostgreSQL, two conditional creates with the same condition would otherwise both see no
        match and both create. A transaction-scoped advisory lock on the condition makes the second
        wait and then find the first one's resource. (SQLite units of work are serialised already.)"""
        if not self._ctx.is_postgres:
            return
        hashes = "\n".join(f"{p}\x00{self._ctx.vault.blind_index(k[0])}" for p, k in criteria_keys(criteria))
        digest = hashlib.sha256(f"{resource_type}\n{hashes}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        await self._ctx.execute(select(func.pg_advisory_xact_lock(key)))

    def _stored(self, row: Row[Any]) -> StoredResource:
        aad = f"{row.resource_type}/{row.resource_id}/{row.version_id}"
        return StoredResource(
            resource_type=row.resource_type,
            id=row.resource_id,
            version_id=row.version_id,
            last_updated=row.last_updated,
            body=self._ctx.open_json(row.body, aad),
            deleted=row.deleted,
        )
