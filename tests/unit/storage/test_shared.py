from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapter.storage import SearchToken
from adapter.storage.shared import (
    UtcClock,
    criterion_key,
    dump_json,
    instant,
    load_json,
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


JSON_BODIES = [
    {"resourceType": "Patient", "id": "a", "active": True, "name": [{"text": "欧阳娜娜"}]},
    {"text": 'quote " backslash \\ slash / tab \t newline \n nul \x00 unit \x1f del \x7f'},
    {"astral": "𠀀𪚥 and a line separator \u2028", "n": [0, -1, 2**63 - 1, 1e-7, 2.5], "none": None},
    {"psn_no": "37160000000000000000", "urn": "urn:1234567890123456789012"},  # long digits in strings
    {"big": 2**70, "list": [1, -(2**65)], "nested": {"x": [2**64]}},  # beyond 64 bits
    {1: "a non-string key"},
    [10**19],
    10**30,
]


@pytest.mark.parametrize("value", JSON_BODIES)
def test_stored_json_reads_back_as_the_json_module_would(value: object) -> None:
    written = dump_json(value)
    reference = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert len(written) <= len(reference)  # compact, non-ASCII as is (not \u escapes)
    for text in (written, reference):
        read = load_json(text)
        assert read == json.loads(reference)
        assert json.dumps(read) == json.dumps(json.loads(reference))  # same types: an int stays an int


@pytest.mark.parametrize("value", JSON_BODIES)
def test_long_numbers_are_found_in_json_with_whitespace(value: object) -> None:
    # Not how we write, but how a client or another tool might: spaces, newlines, signs.
    for text in (json.dumps(value, indent=2), json.dumps(value, separators=(" , ", " : "))):
        read = load_json(text.encode())
        assert json.dumps(read) == json.dumps(json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        b"-18446744073709551617",
        b" 18446744073709551616",
        b"[ \n -18446744073709551617]",
        b'{"a":\t-99999999999999999999}',
    ],
)
def test_a_long_number_anywhere_keeps_every_digit(text: bytes) -> None:
    read = load_json(text)
    assert json.dumps(read) == json.dumps(json.loads(text))
    assert "e+" not in json.dumps(read)


def test_long_digits_inside_strings_keep_the_fast_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(raw: bytes) -> object:
        raise AssertionError("read with json.loads")

    monkeypatch.setattr("adapter.storage.shared.json.loads", slow)
    body = b'{"psn_no":"37160000000000000000","id":"a-1234567890123456789012","n":[1,-2]}'
    assert load_json(body) == {
        "psn_no": "37160000000000000000",
        "id": "a-1234567890123456789012",
        "n": [1, -2],
    }
