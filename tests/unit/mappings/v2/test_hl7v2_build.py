"""Building messages: escaping on the way out, HL7 numbering, and a parse -> encode round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.hl7v2 import (
    DEFAULT_DELIMITERS,
    Delimiters,
    encode_field,
    escape,
    message,
    parse,
    segment,
    unescape,
)


def test_values_are_escaped() -> None:
    assert encode_field("a|b^c&d~e\\f\r\n") == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D\\\\X0A\\"


def test_components_subcomponents_repetitions() -> None:
    value = [("0012345", "", "", ("BZRMYY", "2.16.1", "ISO"), "MR"), ("X", "", "", "", "PI", "")]
    assert encode_field(value) == "0012345^^^BZRMYY&2.16.1&ISO^MR~X^^^^PI"
    assert encode_field(None) == ""
    assert encode_field(("a", "", "")) == "a"


def test_segment_numbering_and_msh() -> None:
    msh = segment("MSH", {3: "HIS", 9: ("ADT", "A04"), 10: "C1", 12: "2.5"})
    pid = segment("PID", {1: "1", 5: ("张", "伟"), 8: "M"})
    msg = message([msh, pid])
    assert msg.encode() == "MSH|^~\\&|HIS||||||ADT^A04|C1||2.5\rPID|1||||张^伟|||M\r"
    again = parse(msg.encode())
    assert again.get("PID-5.2") == "伟"
    assert again.trigger_event == "A04"


def test_message_rules() -> None:
    with pytest.raises(ValueError, match="MSH"):
        message([segment("PID", {1: "1"})])
    other = Delimiters("#", "!", "$", "\\", "%")
    with pytest.raises(ValueError, match="delimiters"):
        message([segment("MSH", {3: "A"}), segment("PID", {1: "1"}, other)])
    with pytest.raises(ValueError, match="segment name"):
        segment("PIDX", {})


@given(st.text())
def test_escape_round_trip(text: str) -> None:
    assert unescape(escape(text, DEFAULT_DELIMITERS), DEFAULT_DELIMITERS) == text


@given(st.lists(st.lists(st.text(), min_size=1, max_size=4), min_size=1, max_size=3))
def test_field_round_trip(reps: list[list[str]]) -> None:
    value: list[str | tuple[str | tuple[str, ...], ...]] = [tuple(r) for r in reps]
    raw = encode_field(value)
    msg = parse(f"MSH|^~\\&|A\rNTE|{raw}\r")
    field = msg.segment("NTE").field(1)
    for number, rep in enumerate(reps, 1):
        for comp_number, comp in enumerate(rep, 1):
            assert field.component(comp_number, number) == comp
