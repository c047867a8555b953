"""JSON through orjson with the stdlib's objects and text (``adapter.json_codec``)."""

from __future__ import annotations

import json

import pytest

from adapter.json_codec import dump_json, load_json

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

    monkeypatch.setattr("adapter.json_codec.json.loads", slow)
    body = b'{"psn_no":"37160000000000000000","id":"a-1234567890123456789012","n":[1,-2]}'
    assert load_json(body) == {
        "psn_no": "37160000000000000000",
        "id": "a-1234567890123456789012",
        "n": [1, -2],
    }
