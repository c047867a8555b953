"""Bulk writes on SQL: the rows ``SqlFhirRepository.create`` writes (encrypted versions, blind-index
tokens), for many resources in a few executemany statements instead of several round trips each.

The rows are what the one-by-one path writes (same ``stamp``, AAD, ``token_keys`` and blind index;
column values converted by the same SQLAlchemy types, once per batch instead of once per row), so
every read and search through the ports finds bulk-written resources. Statements are compiled once
per dialect and fed positional rows through the driver's executemany: SQLAlchemy's per-row
parameter processing would cost more than the database does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, TypeVar

from sqlalchemy import Column, Table, insert, text

from adapter.storage.records import NewResource
from adapter.storage.shared import body_id, dump_json, resource_type_of, stamp, token_keys
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.schema import resource_versions, resources, search_tokens

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
    process = column.type.bind_processor(ctx.sa_dialect)
    return value if process is None else process(value)


async def insert_rows(
    ctx: SqlContext,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    ignore_conflict_on: str | None = None,
) -> None:
    sql = compiled_insert(ctx, table, columns, ignore_conflict_on=ignore_conflict_on)
    if ctx.dialect == "sqlite":
        await ctx.execute(text(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}"))
    for chunk in chunks(rows, ROWS_PER_STATEMENT):
        await ctx.execute_driver(sql, chunk)


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
    # Current rows first: a duplicate id fails there (DuplicateKey) before anything else is written.
    await insert_rows(ctx, resources, _CURRENT_COLUMNS, current)
    await insert_rows(ctx, resource_versions, _VERSION_COLUMNS, versions)
    await insert_rows(ctx, search_tokens, _TOKEN_COLUMNS, tokens)
    return len(current)
