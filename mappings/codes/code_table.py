"""An immutable code table (code -> entry) and the plain coded concept most tables hold."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

EntryT = TypeVar("EntryT")


@dataclass(frozen=True)
class Coded:
    """One code of a code system with its display name."""

    code: str
    name: str


# eq=False: equality and hashing come from Mapping (by content), not from the fields.
@dataclass(frozen=True, eq=False)
class CodeTable(Mapping[str, EntryT], Generic[EntryT]):
    """A read-only mapping from code to entry; build a new table to change it."""

    title: str
    entries: Mapping[str, EntryT] = field(repr=False)

    def __post_init__(self) -> None:
        # Copy into a read-only view so neither the caller nor a consumer can change the table.
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))

    @classmethod
    def of(cls, title: str, items: Iterable[tuple[str, EntryT]]) -> CodeTable[EntryT]:
        return cls(title, dict(items))

    def __getitem__(self, code: str) -> EntryT:
        return self.entries[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
