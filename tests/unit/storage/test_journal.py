from __future__ import annotations

from adapter.storage.memory.journal import Journal


def test_rollback_restores_every_change_in_reverse() -> None:
    mapping, items, members = {"kept": 1, "changed": 2}, [1], {"a"}
    journal = Journal()
    journal.put(mapping, "changed", 20)
    journal.put(mapping, "new", 3)
    journal.put(mapping, "new", 4)
    journal.append(items, 2)
    journal.add(members, "b")
    journal.add(members, "a")  # already there: nothing to undo
    journal.discard(members, "a")
    journal.discard(members, "zzz")
    journal.rollback()
    assert mapping == {"kept": 1, "changed": 2}
    assert items == [1]
    assert members == {"a"}
