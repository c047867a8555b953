"""Bulk writes on SQL: the rows ``SqlFhirRepository.create`` writes (encrypted versions, blind-index
tokens), for many resources in a few executemany statements instead of several round trips each.

Two ways in: ``create_many`` (the ``FhirRepository`` port: seals and hashes in the caller's process),
and rows sealed beforehand (``seal_resource``, ``seal_link``: pure functions of a Vault, run in
worker processes by ``dualcode mpi import``) written by a ``SealedWriter`` inside a unit of work, so
the writing process only writes.

The rows are what the one-by-one path writes (same ``stamp``, AAD, ``token_keys`` and blind index;
column values converted by the same SQLAlchemy types, once per batch instead of once per row), so
every read and search through the ports finds bulk-written resources. Statements are compiled once
per dialect and fed positional rows through the driver's executemany: SQLAlchemy's per-row
parameter processing would cost more than the database does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple, TypeVar

from sqlalchemy import Column, Table, bindparam, insert, select, text

from adapter.errors import DuplicateKey
from adapter.json_codec import dump_json
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import NewResource, SearchToken
from adapter.storage.shared import body_id, identity_key, resource_type_of, stamp, token_keys
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.schema import (
    identity_links,
    resource_versions,
    resources,
    search_tokens,
    search_tokens_pending,
)
from adapter.storage.vault import Vault

# Rows per executemany call: bounds the memory one call's parameters take. Keys per IN list: far
# below SQLite's and PostgreSQL's parameter limits.
ROWS_PER_STATEMENT: Final = 20_000
KEYS_PER_QUERY: Final = 500
# SQLite's default page cache (2 MB) spills a big transaction's index pages to the WAL again and
# again; a bulk write raises the connection's limit (pages are only taken as they are used).
SQLITE_BULK_CACHE_KIB: Final = 256 * 1024

T = TypeVar("T")
_compiled: dict[tuple[str, str, str | None], tuple[str, tuple[str, ...]]] = {}


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def compiled_insert(
    ctx: SqlContext, table: Table, columns: Sequence[str], *, ignore_conflict_on: str | None = None
) -> str:
    """INSERT of ``columns`` (in that order) for this dialect; ON CONFLICT DO NOTHING if asked."""
    key = (ctx.dialect, table.name, ignore_conflict_on)
    if key not in _compiled:
        statement = ctx.insert_ignoring(table, ignore_conflict_on) if ignore_conflict_on else insert(table)
        compiled = statement.compile(dialect=ctx.sa_dialect, column_keys=list(columns))
        _compiled[key] = (str(compiled), tuple(compiled.positiontup or ()))
    sql, order = _compiled[key]
    if order != tuple(columns):
        raise RuntimeError(f"compiled INSERT INTO {table.name} binds {order}, not {tuple(columns)}")
    return sql


def driver_value(ctx: SqlContext, column: Column[Any], value: Any) -> Any:
    """``value`` as the column's SQLAlchemy type hands it to the driver (e.g. SQLite's datetime text)."""
    # dialect_impl: the type as this dialect binds it (SQLite's DATETIME text with microseconds, as
    # every ordinary statement writes it), not the generic type's processing.
    dialect = ctx.sa_dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return value if process is None else process(value)


async def insert_rows(
    ctx: SqlContext,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    ignore_conflict_on: str | None = None,
) -> int:
    """Rows written, or -1 when the driver does not say (asyncpg)."""
    sql = compiled_insert(ctx, table, columns, ignore_conflict_on=ignore_conflict_on)
    if ctx.dialect == "sqlite" and len(rows) >= ROWS_PER_STATEMENT:
        # Only for bulk loads: the few token rows of one resource write need no bigger cache, and
        # the PRAGMA was one more statement on every change.
        await ctx.execute(text(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}"))
    written = 0
    for chunk in chunks(rows, ROWS_PER_STATEMENT):
        count = await ctx.execute_driver(sql, chunk)
        written = -1 if count < 0 or written < 0 else written + count
    return written


_CURRENT_COLUMNS: Final = ("resource_type", "resource_id", "version_id", "last_updated", "deleted")
_VERSION_COLUMNS: Final = (*_CURRENT_COLUMNS, "body")
_TOKEN_COLUMNS: Final = ("resource_type", "param", "hash", "resource_id")


async def create_many(ctx: SqlContext, items: Sequence[NewResource]) -> int:
    now = ctx.clock.now()
    at = driver_value(ctx, resources.c.last_updated, now)
    live = driver_value(ctx, resources.c.deleted, False)
    blind_index = ctx.vault.blind_index
    current: list[tuple[Any, ...]] = []
    versions: list[tuple[Any, ...]] = []
    tokens: list[tuple[Any, ...]] = []
    for item in items:
        resource_type = resource_type_of(item.body)
        resource_id = body_id(item.body, required=True)
        raw = dump_json(stamp(item.body, resource_id=resource_id, version_id=1, last_updated=now))
        current.append((resource_type, resource_id, 1, at, live))
        versions.append(
            (resource_type, resource_id, 1, at, live, ctx.seal(raw, f"{resource_type}/{resource_id}/1"))
        )
        tokens.extend(
            (resource_type, param, blind_index(key), resource_id) for param, key in token_keys(item.tokens)
        )
    tokens.sort()  # key order: each B-tree page is visited once per call instead of once per row
    if ctx.is_postgres and await _copy(ctx, current, versions, tokens):
        return len(current)
    # Current rows first: a duplicate id fails there (DuplicateKey) before anything else is written.
    await insert_rows(ctx, resources, _CURRENT_COLUMNS, current)
    await insert_rows(ctx, resource_versions, _VERSION_COLUMNS, versions)
    await insert_rows(ctx, search_tokens, _TOKEN_COLUMNS, tokens)
    return len(current)


# --- rows sealed beforehand --------------------------------------------------------------------

Row = tuple[Any, ...]
_MERGE_PENDING: Final = (
    "INSERT INTO search_tokens (resource_type, param, hash, resource_id) "
    "SELECT p.resource_type, p.param, p.hash, p.resource_id FROM search_tokens_pending p "
    "JOIN resources r ON r.resource_type = p.resource_type AND r.resource_id = p.resource_id "
    "WHERE r.version_id = 1 AND NOT r.deleted "
    "ORDER BY p.resource_type, p.param, p.hash, p.resource_id"
)
# One statement for every look-up (compiled once; the IN list expands per call).
_HOLDERS: Final = text(
    "SELECT value_hash, patient_id FROM identity_links WHERE value_hash IN :hashes"
).bindparams(bindparam("hashes", expanding=True))
HASHES_PER_QUERY: Final = 5_000
# Merging at least this many pending rows may rebuild the resource index instead (merge_tokens).
REBUILD_MIN_ROWS: Final = 200_000
_RESOURCE_INDEX: Final = "ix_search_tokens_resource_type_resource_id"
_LINK_COLUMNS: Final = ("value_hash", "system", "value", "patient_id", "created_at", "flagged", "note")


class SealedResource(NamedTuple):
    """Version 1 of a resource as ``create`` stores it: the encrypted stamped body and its token rows
    (resource_type, param, hash, resource_id). ``last_updated`` is the instant stamped in the body.

    A NamedTuple, not a frozen dataclass (as immutable): the import's workers send millions of them
    to the writing process, and a tuple is rebuilt there several times faster."""

    resource_type: str
    id: str
    body: bytes
    tokens: tuple[Row, ...]


class SealedLink(NamedTuple):
    """An identity link to write: blind index, system, encrypted value (not flagged, no note).
    A NamedTuple for the reason SealedResource is one."""

    value_hash: str
    system: str
    value: bytes


class TokenDigests:
    """``vault.blind_index`` of token keys, remembering the digests of the params whose values repeat
    from person to person (gender, birth date, name parts, Coverage type: about a third of a
    person's tokens), up to ``limit`` keys; other params (identifiers, references) are computed
    each time. The digests are the vault's own: only the work is saved."""

    __slots__ = ("_blind_index", "_known", "_limit", "_repeating")

    def __init__(self, vault: Vault, *, repeating: Collection[str], limit: int = 200_000) -> None:
        self._blind_index = vault.blind_index
        self._repeating = frozenset(repeating)
        self._known: dict[str, str] = {}
        self._limit = limit

    def __call__(self, param: str, key: str) -> str:
        if param not in self._repeating:
            return self._blind_index(key)
        digest = self._known.get(key)
        if digest is None:
            if len(self._known) >= self._limit:
                self._known.clear()
            digest = self._known[key] = self._blind_index(key)
        return digest


def seal_resource(
    vault: Vault,
    body: dict[str, Any],
    tokens: Iterable[SearchToken],
    *,
    last_updated: datetime,
    digests: Callable[[str, str], str] | None = None,
) -> SealedResource:
    """What ``create_many`` computes for one item (same stamp, AAD, token keys and blind index).
    ``digests(param, key)``: the blind index of a token key (e.g. a TokenDigests of this vault)."""
    resource_type = resource_type_of(body)
    resource_id = body_id(body, required=True)
    raw = dump_json(stamp(body, resource_id=resource_id, version_id=1, last_updated=last_updated))
    sealed = vault.encrypt(raw, aad=f"{resource_type}/{resource_id}/1".encode())
    digest = digests or TokenDigests(vault, repeating=())
    rows = tuple((resource_type, param, digest(param, key), resource_id) for param, key in token_keys(tokens))
    return SealedResource(resource_type, resource_id, sealed, rows)


def seal_link(vault: Vault, system: str, value: str) -> SealedLink:
    """What ``link_many`` computes for one identifier."""
    value_hash = vault.blind_index(identity_key(system, value))
    return SealedLink(
        value_hash, system, vault.encrypt(value.encode(), aad=f"identity/{value_hash}".encode())
    )


def link_hash(vault: Vault, system: str, value: str) -> str:
    return vault.blind_index(identity_key(system, value))


class SealedWriter:
    """Writes sealed rows in one unit of work (``sealed_writer(uow)``). The vault that sealed them
    must be the storage's own: rows are stored as they come."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def holders(self, hashes: Iterable[str]) -> dict[str, str]:
        """The patient each of these identity blind indexes is linked to (absent: not linked)."""
        found: dict[str, str] = {}
        for chunk in chunks(list(dict.fromkeys(hashes)), HASHES_PER_QUERY):
            for row in await self._ctx.execute(_HOLDERS, {"hashes": list(chunk)}):
                found[row.value_hash] = row.patient_id
        return found

    async def link(self, links: Sequence[tuple[SealedLink, str]], *, now: datetime) -> dict[str, str]:
        """Insert-or-ignore each (link, patient id), as ``link_many`` does; returns the patient that
        holds each blind index afterwards. When the driver reports every row written (SQLite) no
        read-back is needed: each holder is the one given."""
        ctx = self._ctx
        at = driver_value(ctx, identity_links.c.created_at, now)
        unflagged = driver_value(ctx, identity_links.c.flagged, False)
        rows = [
            (link.value_hash, link.system, link.value, patient, at, unflagged, None)
            for link, patient in links
        ]
        written = await insert_rows(ctx, identity_links, _LINK_COLUMNS, rows, ignore_conflict_on="value_hash")
        given = {link.value_hash: patient for link, patient in reversed(links)}  # the first wins
        if written == len(rows) and len(given) == len(rows):
            return given
        return await self.holders(given)

    async def create(
        self, items: Sequence[SealedResource], *, last_updated: datetime, defer_tokens: bool = False
    ) -> int:
        """Store version 1 of each (``create_many``'s rows); ids must be new (DuplicateKey).

        ``defer_tokens``: the token rows go to search_tokens_pending (appended, no index to maintain)
        and the resources are not found by search until ``merge_tokens``. Reads by id, identity
        links and everything else see them at once."""
        ctx = self._ctx
        at = driver_value(ctx, resources.c.last_updated, last_updated)
        live = driver_value(ctx, resources.c.deleted, False)
        current = [(item.resource_type, item.id, 1, at, live) for item in items]
        versions = [(item.resource_type, item.id, 1, at, live, item.body) for item in items]
        tokens = [row for item in items for row in item.tokens]
        table = search_tokens_pending if defer_tokens else search_tokens
        if not defer_tokens:
            tokens.sort()  # key order: each index page is visited once per call, not once per row
        if ctx.is_postgres and await _copy(ctx, current, versions, tokens, tokens_to=table):
            return len(current)
        await insert_rows(ctx, resources, _CURRENT_COLUMNS, current)
        await insert_rows(ctx, resource_versions, _VERSION_COLUMNS, versions)
        await insert_rows(ctx, table, _TOKEN_COLUMNS, tokens)
        return len(current)

    async def merge_tokens(self) -> int:
        """Move every pending token row into search_tokens, in key order (each page of the primary
        key is written once, not once per row), and empty search_tokens_pending; returns the rows
        moved. Rows of a resource that changed since (version > 1: its update wrote its own tokens;
        deleted) are dropped, not moved.

        The (resource_type, resource_id) index cannot be fed in its own order by the same statement:
        on SQLite, when the pending rows are many next to the table, it is dropped and built again
        by sorting (inside this transaction: other connections keep reading the committed index)."""
        ctx = self._ctx
        rebuild = False
        if ctx.dialect == "sqlite":
            await ctx.execute(text(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}"))
            pending = (await ctx.execute(text("SELECT max(rowid) FROM search_tokens_pending"))).scalar()
            if pending is not None and pending >= REBUILD_MIN_ROWS:
                indexed = (await ctx.execute(text("SELECT count(*) FROM search_tokens"))).scalar() or 0
                rebuild = pending * 2 >= indexed
        if rebuild:
            await ctx.execute(text(f"DROP INDEX {_RESOURCE_INDEX}"))
        moved = await ctx.execute(text(_MERGE_PENDING))
        if rebuild:
            await ctx.execute(
                text(f"CREATE INDEX {_RESOURCE_INDEX} ON search_tokens (resource_type, resource_id)")
            )
        await ctx.execute(text("DELETE FROM search_tokens_pending"))
        return int(moved.rowcount or 0)

    async def has_pending_tokens(self) -> bool:
        row = (await self._ctx.execute(select(search_tokens_pending.c.hash).limit(1))).first()
        return row is not None


async def _copy(
    ctx: SqlContext,
    current: list[Row],
    versions: list[Row],
    tokens: list[Row],
    *,
    tokens_to: Table = search_tokens,
) -> bool:
    """COPY the rows (PostgreSQL, asyncpg): several times faster than INSERT for this volume. False
    when the connection is not asyncpg's or not in a transaction (the caller INSERTs instead)."""
    connection = await ctx.driver_connection()
    if connection is None or not hasattr(connection, "copy_records_to_table"):
        return False
    if not connection.is_in_transaction():
        return False  # COPY would commit on its own
    from asyncpg.exceptions import UniqueViolationError

    try:
        for table, columns, rows in (
            (resources, _CURRENT_COLUMNS, current),  # first: a duplicate id fails before the rest
            (resource_versions, _VERSION_COLUMNS, versions),
            (tokens_to, _TOKEN_COLUMNS, tokens),
        ):
            if rows:
                await connection.copy_records_to_table(table.name, records=rows, columns=list(columns))
    except UniqueViolationError as error:
        raise DuplicateKey("a resource with this id already exists") from error
    return True


def sealed_writer(uow: UnitOfWork) -> SealedWriter | None:
    """A SealedWriter on this unit of work when it is a SQL one (None for the memory store)."""
    ctx = getattr(uow.resources, "_ctx", None)
    return SealedWriter(ctx) if isinstance(ctx, SqlContext) else None
