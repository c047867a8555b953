from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapter.storage import SearchToken
from adapter.storage.shared import (
    UtcClock,
    criterion_key,
    instant,
    stamp,
    token_keys,
    utc,
)


def test_clock_is_utc_and_strictly_increasing() -> None:
    clock = UtcClock()
    ticks = [clock.now() for _ in range(1000)]
    assert all(t.tzinfo is UTC for t in ticks)
    assert all(a < b for a, b in itertools.pairwise(ticks))


def test_stamp_copies_and_sets_meta() -> None:
    body = {"resourceType": "Patient", "meta": {"profile": ["p"]}}
    moment = datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    stamped = stamp(body, resource_id="a", version_id=3, last_updated=moment)
    assert stamped["meta"] == {
        "profile": ["p"],
        "versionId": "3",
        "lastUpdated": "2024-05-01T08:00:00.123456Z",
    }
    assert body == {"resourceType": "Patient", "meta": {"profile": ["p"]}}


def test_instant_is_utc() -> None:
    shanghai = datetime(2024, 5, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    assert instant(shanghai) == "2024-05-01T08:00:00.000000Z"


def test_token_keys_match_criteria() -> None:
    with_system = SearchToken("identifier", "urn:a", "1")
    without = SearchToken("identifier", None, "2")
    keys = token_keys([with_system, without])
    assert criterion_key(with_system) in keys
    assert criterion_key(SearchToken("identifier", None, "1")) in keys  # any system
    assert criterion_key(SearchToken("identifier", "urn:b", "1")) not in keys
    assert criterion_key(SearchToken("identifier", "", "2")) in keys  # |2: no system
    assert criterion_key(SearchToken("identifier", "", "1")) not in keys


def test_keys_are_unambiguous() -> None:
    # "a|b" without system must not collide with value "b" under system "a".
    keys = token_keys([SearchToken("identifier", "a", "b")])
    assert criterion_key(SearchToken("identifier", None, "a|b")) not in keys


def test_utc_refuses_naive() -> None:
    with pytest.raises(ValueError, match="timezone"):
        utc(datetime(2024, 1, 1))
