"""The HL7 v2 parser and model: delimiters, numbering, escapes, paths, line endings, bad input."""

from __future__ import annotations

import pytest

from mappings.hl7v2 import Delimiters, Hl7ParseError, parse

A04 = (
    "MSH|^~\\&|HIS|BZRMYY|DUALCODE|BZWJW|20250601083000||ADT^A04^ADT_A01|C1|P|2.5||||||UNICODE UTF-8\r"
    "EVN|A04|20250601083000\r"
    "PID|1||371602198503151238^^^^NNCHN~0012345^^^BZRMYY&2.16.1&ISO^MR||张^伟^^^^^L||19850315|1\r"
    "ZPI|1|贵宾\r"
)


def test_msh_numbering_counts_the_separator_as_field_1() -> None:
    msg = parse(A04)
    msh = msg.segment("MSH")
    assert msh.field(1).value == "|"
    assert msh.field(2).value == "^~\\&"
    assert msh.value(3) == "HIS"
    assert msh.value(9, 2) == "A04"
    assert (msg.message_type, msg.trigger_event, msg.structure) == ("ADT", "A04", "ADT_A01")
    assert (msg.control_id, msg.version) == ("C1", "2.5")
    assert msg.get("MSH-18") == "UNICODE UTF-8"


def test_repetitions_components_and_subcomponents() -> None:
    pid = parse(A04).segment("PID")
    ids = pid.field(3)
    assert len(ids) == 2
    assert ids.component(5, repetition=2) == "MR"
    assert ids.repetition(2).subcomponents(4) == ("BZRMYY", "2.16.1", "ISO")
    assert ids.repetition(2).subcomponent(4, 2) == "2.16.1"
    assert ids.repetition(3).is_empty
    assert pid.field(5).component(1) == "张"
    assert pid.field(99).is_empty


def test_paths() -> None:
    msg = parse(A04)
    assert msg.get("PID-3") == "371602198503151238^^^^NNCHN"
    assert msg.get("PID-3[2].1") == "0012345"
    assert msg.get("PID-3[2].4.3") == "ISO"
    assert msg.get("PID.5.2") == "伟"
    assert msg.get("PID-8") == "1"
    assert msg.get("OBX-5") == ""
    assert msg.get("EVN[2]-1") == ""
    with pytest.raises(Hl7ParseError):
        msg.get("pid-3")


def test_z_and_unknown_segments_are_kept_in_order() -> None:
    msg = parse(A04)
    assert [s.name for s in msg] == ["MSH", "EVN", "PID", "ZPI"]
    assert msg.segment("ZPI").value(2) == "贵宾"


@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"])
def test_line_endings(newline: str) -> None:
    msg = parse(A04.replace("\r", newline) + newline + newline)
    assert [s.name for s in msg] == ["MSH", "EVN", "PID", "ZPI"]


def test_encode_gives_back_the_wire_text() -> None:
    assert parse(A04).encode() == A04


def test_escape_sequences_are_decoded() -> None:
    text = "MSH|^~\\&|A\rNTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D0A\\g\\.br\\h\\H\\i\\N\\\r"
    assert parse(text).segment("NTE").value(3) == "a|b^c&d~e\\f\r\ng\nhi"


def test_hex_escapes_use_the_given_charset() -> None:
    utf8 = "MSH|^~\\&|A\rNTE|1||\\XE5BCA0\\\r"
    gbk = "MSH|^~\\&|A\rNTE|1||\\XD5C5\\\r"
    assert parse(utf8).get("NTE-3") == "张"
    assert parse(gbk, hex_charset="gb18030").get("NTE-3") == "张"
    assert parse(gbk).get("NTE-3") == "\\XD5C5\\"  # not UTF-8: kept as sent, not dropped


def test_unknown_and_unbalanced_escapes_are_kept() -> None:
    text = "MSH|^~\\&|A\rNTE|1||\\Zabc\\ x \\C2842\\ end\\\r"
    assert parse(text).get("NTE-3") == "\\Zabc\\ x \\C2842\\ end\\"


def test_other_delimiters() -> None:
    text = "MSH#!$\\%#HIS\rPID#1##id1!!!!MR$id2%x!!!!PI\r"
    msg = parse(text)
    assert msg.delimiters == Delimiters("#", "!", "$", "\\", "%")
    assert msg.segment("PID").field(3).component(5, 2) == "PI"
    assert msg.segment("PID").field(3).repetition(2).subcomponents(1) == ("id2", "x")
    assert msg.get("MSH-3") == "HIS"


def test_short_msh2_takes_the_defaults() -> None:
    msg = parse("MSH|^~|A\rPID|1||a&b\r")
    assert msg.delimiters.escape == "\\"
    assert msg.segment("PID").field(3).repetition(1).subcomponents(1) == ("a", "b")


def test_a_leading_bom_and_blank_lines_are_skipped() -> None:
    assert parse("\ufeff\r\n" + A04).control_id == "C1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no_msh"),
        ("PID|1\r", "no_msh"),
        ("MSH", "separator"),
        ("MSHA^~\\&|x", "separator"),
        ("MSH||x", "separator"),
        ("MSH|^^\\&|x", "delimiters"),
        ("MSH|^~\\&|A\rP|1\r", "segment_name"),
        ("MSH|^~\\&|A\r张三|1\r", "segment_name"),
    ],
)
def test_bad_input_raises_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(Hl7ParseError) as caught:
        parse(text)
    assert caught.value.reason == reason


def test_the_model_is_immutable() -> None:
    msg = parse(A04)
    with pytest.raises(AttributeError):
        msg.segments = ()  # type: ignore[misc]
    assert isinstance(msg.segments, tuple)
    assert isinstance(msg.segment("PID").fields, tuple)


def test_a_fifth_encoding_character_is_kept_verbatim() -> None:
    text = "MSH|^~\\&#|HIS\rPID|1||a#b\r"
    msg = parse(text)
    assert msg.get("MSH-2") == "^~\\&#"
    assert msg.get("PID-3") == "a#b"
    assert msg.encode() == text


def test_escapes_with_other_delimiters_and_inside_subcomponents() -> None:
    text = "MSH#!$/%#A\rNTE#1##x/F/y!p/S/q%r/T/s/E/$t\r"
    field = parse(text).segment("NTE").field(3)
    assert field.component(1) == "x#y"
    assert field.repetition(1).subcomponents(2) == ("p!q", "r%s/")
    assert field.component(1, repetition=2) == "t"


def test_odd_hex_and_empty_sequences_are_kept() -> None:
    text = "MSH|^~\\&|A\rNTE|1||a\\XE5B\\b\\\\c\\X\\d\r"
    assert parse(text).get("NTE-3") == "a\\XE5B\\b\\\\c\\X\\d"


def test_header_fields_1_and_2_by_path() -> None:
    msg = parse(A04)
    assert (msg.get("MSH-1"), msg.get("MSH-2"), msg.get("MSH-9.3")) == ("|", "^~\\&", "ADT_A01")
    assert len(msg.segment("MSH")) == 18


def test_null_values_are_kept_as_sent() -> None:
    assert parse('MSH|^~\\&|A\rPID|1||""\r').get("PID-3") == '""'


@pytest.mark.parametrize(
    "text",
    [
        "MSH|^~\\&|HIS|H001|DC|DC|20261129||ADT^A04^ADT_A01|C1|P|2.5\rPID|1||42^^^H001^MR~X||王^伟|plain|\\T\\x|a&b",
        "MSH#$%*@#HIS#H001#DC#DC#20261129##ADT$A04#C1#P#2.5\rPID#1##42$$$H001$MR%X##王$伟#plain#*T*x#a@b",
    ],
)
def test_value_is_the_field_component_for_every_field(text: str) -> None:
    # Segment.value reads plain fields without building a Field: it must answer as field() does.
    for segment in parse(text):
        for number in range(len(segment) + 2):
            for component in (1, 2, 4):
                for repetition in (1, 2):
                    expected = segment.field(number).component(component, repetition)
                    assert segment.value(number, component, repetition) == expected
