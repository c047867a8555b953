"""Hot read statements: built once, compiled once per dialect, and on SQLite run through the stdlib
driver directly.

A card scan of a known person is a handful of indexed reads. Through SQLAlchemy each costs ~40 µs of
Python around ~10 µs of SQLite (execution context, events, result wrapping); a prepared read runs
the SQL compiled once and applies only the type conversions its columns need (UTC datetimes,
booleans). On PostgreSQL (asyncpg, where the driver call is the cost) it is an ordinary execute of
the same statement, so both backends return rows with the same attribute names and types.
Bind parameters must not be "expanding": give an IN list one parameter per element instead.

Hot writes (``PreparedWrite``: the INSERTs and UPDATEs every HL7 message and every new person make)
go the same way through ``SqlContext.write``: on SQLite SQLAlchemy's execution around a ~15 µs
INSERT cost ~100 µs, a dozen times per message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase

Compiled = TypeVar("Compiled")


class _ReturnsRows:
    """The rows a compiled statement returns, converted as its columns' types say."""

    __slots__ = ()
    keys: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]

    def rows(self, raw: Sequence[tuple[Any, ...]]) -> list[PreparedRow]:
        results, keys = self.results, self.keys
        if not any(results):
            return [PreparedRow(keys, row) for row in raw]
        return [PreparedRow(keys, _converted(results, row)) for row in raw]


@dataclass(frozen=True, slots=True)
class CompiledRead(_ReturnsRows):
    sql: str
    names: tuple[str, ...]  # the bind parameters, in the order of the placeholders
    binds: tuple[Callable[[Any], Any] | None, ...]
    keys: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            params[name] if process is None else process(params[name])
            for name, process in zip(self.names, self.binds, strict=True)
        )


def _converted(results: tuple[Callable[[Any], Any] | None, ...], row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v if p is None or v is None else p(v) for p, v in zip(results, row, strict=True))


class PreparedRow:
    """A result row with attribute access, as SQLAlchemy's Row gives (``row.body``)."""

    __slots__ = ("_keys", "_values")

    def __init__(self, keys: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self._keys = keys
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[self._keys.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def __getitem__(self, index: int) -> Any:
        return self._values[index]


class _PerDialect(Generic[Compiled]):
    """A statement compiled once per dialect (``_compile``), on first use."""

    __slots__ = ("_compiled",)

    def __init__(self) -> None:
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> Compiled:
        raise NotImplementedError


class PreparedRead(_PerDialect[CompiledRead]):
    __slots__ = ("statement",)

    def __init__(self, statement: Select[Any]) -> None:
        super().__init__()
        self.statement = statement

    def _compile(self, dialect: Dialect) -> CompiledRead:
        compiled = self.statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[name].type._cached_bind_processor(dialect) for name in names)
        columns = list(self.statement.selected_columns)
        keys = tuple(str(column.key) for column in columns)
        results = tuple(column.type._cached_result_processor(dialect, None) for column in columns)
        return CompiledRead(str(compiled), names, binds, keys, results)


@dataclass(frozen=True, slots=True)
class CompiledWrite(_ReturnsRows):
    sql: str
    names: tuple[str, ...]
    binds: tuple[Callable[[Any], Any] | None, ...]
    defaults: tuple[Any, ...]  # the value of a parameter the statement fixes itself (status="pending")
    keys: tuple[str, ...]  # the RETURNING columns (none without RETURNING)
    results: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for name, default, process in zip(self.names, self.defaults, self.binds, strict=True):
            value = params[name] if name in params else default
            out.append(value if process is None else process(value))
        return out


class PreparedWrite(_PerDialect[CompiledWrite]):
    """An INSERT/UPDATE/DELETE (RETURNING or not) built once; compiled once per dialect. Build one per
    dialect when the statement differs by dialect (ON CONFLICT). Run it with ``SqlContext.write``."""

    __slots__ = ("statement",)

    def __init__(self, statement: UpdateBase) -> None:
        super().__init__()
        self.statement = statement

    def _compile(self, dialect: Dialect) -> CompiledWrite:
        compiled = self.statement.compile(dialect=dialect)
        bound = [compiled.binds[name] for name in compiled.positiontup or ()]
        columns = list(self.statement.exported_columns) if self.statement._returning else []
        return CompiledWrite(
            str(compiled),
            tuple(compiled.positiontup or ()),
            tuple(b.type._cached_bind_processor(dialect) for b in bound),
            tuple(None if b.required else b.effective_value for b in bound),
            tuple(str(column.key) for column in columns),
            tuple(column.type._cached_result_processor(dialect, None) for column in columns),
        )
