"""An undo log: the memory store's rollback.

Units of work are serialised, so undoing recorded changes in reverse order restores exactly the state
before the unit of work began, at the cost of the changes made rather than of a full copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from adapter.storage.ports import ReadOnlyViolation

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Journal:
    __slots__ = ("_read_only", "_undo")

    def __init__(self, *, read_only: bool = False) -> None:
        self._undo: list[Callable[[], object]] = []
        self._read_only = read_only

    def _writable(self) -> None:
        # Every change goes through the journal, so this one check makes a read-only unit refuse
        # writes exactly as the SQL store does.
        if self._read_only:
            raise ReadOnlyViolation("this unit of work is read-only")

    def put(self, mapping: dict[K, V], key: K, value: V) -> None:
        self._writable()
        if key in mapping:
            old = mapping[key]
            self._undo.append(lambda: mapping.__setitem__(key, old))
        else:
            self._undo.append(lambda: mapping.pop(key))
        mapping[key] = value

    def pop_many(self, mapping: dict[K, V], keys: list[K]) -> None:
        """Remove keys; rollback restores the mapping whole, in its original order (which the memory
        stores use as arrival order)."""
        self._writable()
        if not any(key in mapping for key in keys):
            return
        before = dict(mapping)
        for key in keys:
            mapping.pop(key, None)

        def undo() -> None:
            mapping.clear()
            mapping.update(before)

        self._undo.append(undo)

    def append(self, items: list[T], item: T) -> None:
        self._writable()
        items.append(item)
        self._undo.append(items.pop)

    def add(self, items: set[T], item: T) -> None:
        self._writable()
        if item not in items:
            items.add(item)
            self._undo.append(lambda: items.discard(item))

    def discard(self, items: set[T], item: T) -> None:
        self._writable()
        if item in items:
            items.discard(item)
            self._undo.append(lambda: items.add(item))

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()
