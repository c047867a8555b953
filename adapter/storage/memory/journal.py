"""An undo log: the memory store's rollback.

Units of work are serialised, so undoing recorded changes in reverse order restores exactly the state
before the unit of work began, at the cost of the changes made rather than of a full copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Journal:
    __slots__ = ("_undo",)

    def __init__(self) -> None:
        self._undo: list[Callable[[], object]] = []

    def put(self, mapping: dict[K, V], key: K, value: V) -> None:
        if key in mapping:
            old = mapping[key]
            self._undo.append(lambda: mapping.__setitem__(key, old))
        else:
            self._undo.append(lambda: mapping.pop(key))
        mapping[key] = value

    def append(self, items: list[T], item: T) -> None:
        items.append(item)
        self._undo.append(items.pop)

    def add(self, items: set[T], item: T) -> None:
        if item not in items:
            items.add(item)
            self._undo.append(lambda: items.discard(item))

    def discard(self, items: set[T], item: T) -> None:
        if item in items:
            items.discard(item)
            self._undo.append(lambda: items.add(item))

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()
