"""One index key per token without a system, two per token with one; every criterion still finds
what it found when tokens without a system had two keys (databases written before keep working)."""

from __future__ import annotations

from adapter.storage import SearchToken
from adapter.storage.shared import criteria_keys, criterion_keys, token_keys

WITH = SearchToken("identifier", "urn:a", "1")
WITHOUT = SearchToken("identifier", None, "2")


def _matches(criterion: SearchToken, keys: set[tuple[str, str]]) -> bool:
    param, alternatives = criterion_keys(criterion)
    return any((param, key) in keys for key in alternatives)


def test_a_token_without_system_has_one_key() -> None:
    assert len(token_keys([WITHOUT])) == 1
    assert len(token_keys([WITH])) == 2
    assert len(token_keys([SearchToken("name", "", "x")])) == 1  # the empty system is no system
    assert len(token_keys([WITH, WITHOUT, WITH])) == 3


def test_criteria_find_what_they_found() -> None:
    keys = token_keys([WITH, WITHOUT])
    assert _matches(SearchToken("identifier", None, "1"), keys)  # value alone: any system
    assert _matches(SearchToken("identifier", None, "2"), keys)
    assert _matches(SearchToken("identifier", "urn:a", "1"), keys)
    assert _matches(SearchToken("identifier", "", "2"), keys)  # |2: stored without system
    assert not _matches(SearchToken("identifier", "", "1"), keys)  # 1 has a system
    assert not _matches(SearchToken("identifier", "urn:b", "1"), keys)
    assert not _matches(SearchToken("identifier", "urn:a", "2"), keys)
    assert not _matches(SearchToken("name", None, "1"), keys)  # another param


def test_keys_written_before_still_match() -> None:
    # Before, a token without a system also had a row under the any-system key of its value (the
    # on-disk format "0<NUL>value"); such rows keep matching value-alone searches.
    old_row = ("identifier", "0\x002")
    assert _matches(SearchToken("identifier", None, "2"), token_keys([WITHOUT]) | {old_row})
    assert _matches(SearchToken("identifier", "", "2"), token_keys([WITHOUT]) | {old_row})
    assert _matches(SearchToken("identifier", None, "2"), {old_row})
    assert token_keys([SearchToken("identifier", "urn:a", "2")]) >= {old_row}  # the same key as today's


def test_criteria_keys_are_deduplicated_and_ordered() -> None:
    criteria = [
        SearchToken("name", None, "b"),
        SearchToken("birthdate", None, "a"),
        SearchToken("name", None, "b"),
    ]
    keys = criteria_keys(criteria)
    assert [param for param, _ in keys] == ["birthdate", "name"]
    assert all(len(alternatives) == 2 for _, alternatives in keys)
