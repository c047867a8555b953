"""Reading MSH straight from bytes: fields, delimiters, charsets, and the GBK separator trap."""

from __future__ import annotations

import pytest

from adapter.errors import UnparseableMessage
from adapter.hl7v2.msh import Msh, read_msh

ADT = (
    b"MSH|^~\\&|HIS|HOSP^1.2.3^ISO|DUALCODE|DC|20240101120000+0800||ADT^A04^ADT_A01|MSG0001|P^T|2.5.1^CHN"
    b"|||AL|NE|CHN|UNICODE UTF-8\rEVN|A04\rPID|||1"
)


def test_reads_every_field_of_a_full_msh() -> None:
    assert read_msh(ADT) == Msh(
        field_sep="|",
        encoding_chars="^~\\&",
        sending_application="HIS",
        sending_facility="HOSP^1.2.3^ISO",
        receiving_application="DUALCODE",
        receiving_facility="DC",
        timestamp="20240101120000+0800",
        message_type="ADT",
        trigger_event="A04",
        message_structure="ADT_A01",
        control_id="MSG0001",
        processing_id="P",
        version="2.5.1",
        accept_ack_type="AL",
        application_ack_type="NE",
        charset="UNICODE UTF-8",
        codec="utf-8",
        text_codec="utf-8",
    )


def test_enhanced_mode_follows_msh_15_and_16() -> None:
    assert read_msh(ADT).enhanced_mode
    assert not read_msh(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.4").enhanced_mode


def test_short_msh_reads_missing_fields_as_empty() -> None:
    msh = read_msh(b"MSH|^~\\&|HIS")
    assert (msh.sending_application, msh.control_id, msh.message_type, msh.version) == ("HIS", "", "", "")
    assert read_msh(b"MSH|").encoding_chars == "^~\\&"


def test_message_type_with_only_a_type() -> None:
    msh = read_msh(b"MSH|^~\\&|A|B|C|D|2024||ACK|9|P|2.3")
    assert (msh.message_type, msh.trigger_event, msh.message_structure) == ("ACK", "", "")


def test_other_delimiters_are_honoured() -> None:
    msh = read_msh(b"MSH#$*@%#A#B#C#D#2024##ADT$A08$ADT_A01#42#P#2.4######GBK*UNICODE UTF-8")
    assert (msh.field_sep, msh.component_sep, msh.repetition_sep, msh.escape_char, msh.subcomponent_sep) == (
        "#",
        "$",
        "*",
        "@",
        "%",
    )
    assert (msh.trigger_event, msh.control_id, msh.charset, msh.codec) == ("A08", "42", "GBK", "gb18030")


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n"])
def test_segment_terminators(terminator: bytes) -> None:
    assert read_msh(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|7|P|2.4" + terminator + b"PID|x").version == "2.4"


def test_bom_and_blank_lines_before_msh_are_tolerated() -> None:
    assert read_msh(b"\xef\xbb\xbf\r\n  MSH|^~\\&|A|B|C|D|2024||ADT^A01|7|P|2.4").control_id == "7"


@pytest.mark.parametrize("raw", [b"", b"PID|||1", b"EVN|A04\rMSH|^~\\&|", b"   ", b"\x00\xff\x10", b"MS"])
def test_no_msh_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableMessage) as caught:
        read_msh(raw)
    assert caught.value.hl7_location == "MSH"


@pytest.mark.parametrize("raw", [b"MSH", b"MSHA^~\\&", b"MSH ^~\\&", b"MSH\r", b"MSH\x7f", b"MSH\xa1\xa1"])
def test_invalid_field_separator_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableMessage) as caught:
        read_msh(raw)
    assert caught.value.hl7_location == "MSH-1"


@pytest.mark.parametrize(
    ("declared", "codec"),
    [
        ("UNICODE UTF-8", "utf-8"),
        ("GB 18030-2000", "gb18030"),
        ("GBK", "gb18030"),
        ("gb2312", "gb18030"),
        ("ISO IR58", "gb18030"),
        ("8859/1", "iso8859-1"),
        ("ASCII", "ascii"),
    ],
)
def test_charset_from_msh_18(declared: str, codec: str) -> None:
    msh = read_msh(f"MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5||||||{declared}".encode())
    assert (msh.charset, msh.codec) == (declared, codec)


def test_empty_msh_18_falls_back_to_the_default() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5"
    assert read_msh(raw).codec == "utf-8"
    assert read_msh(raw, default_codec="gb18030").codec == "gb18030"
    assert read_msh(raw + b"||||||", default_codec="gb18030").charset == ""


def test_only_the_first_repetition_of_msh_18_counts() -> None:
    assert read_msh(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5||||||GB 18030-2000~UNICODE UTF-8").codec == (
        "gb18030"
    )


def test_unsupported_charset_has_no_codec_and_echoes_bytes() -> None:
    msh = read_msh(b"MSH|^~\\&|A|B\xb0|C|D|2024||ADT^A01|1|P|2.5||||||KS X 1001")
    assert (msh.charset, msh.codec, msh.control_id) == ("KS X 1001", None, "1")
    assert msh.sending_facility.encode(msh.text_codec, "surrogateescape") == b"B\xb0"


def test_chinese_facility_in_gbk() -> None:
    raw = "MSH|^~\\&|HIS|北京协和医院|DC|DC|2024||ADT^A04|C1|P|2.4||||||GBK\rPID|||1||张三".encode("gbk")
    msh = read_msh(raw)
    assert (msh.sending_facility, msh.codec, msh.control_id) == ("北京协和医院", "gb18030", "C1")


def test_gbk_trail_byte_equal_to_the_field_separator_does_not_shift_fields() -> None:
    # 億 is 0x83 0x7C in GBK: its second byte is "|". A byte split would see one field too many.
    raw = "MSH|^~\\&|HIS|億院|DC|DC|2024||ADT^A04|C2|P|2.4||||||GB 18030-2000\rPID".encode("gb18030")
    assert raw.count(b"|") == 18
    msh = read_msh(raw)  # default utf-8: MSH-18 found by decoding first
    assert (msh.sending_facility, msh.control_id, msh.version, msh.codec) == ("億院", "C2", "2.4", "gb18030")


def test_gbk_trail_byte_trap_with_empty_msh_18_uses_the_default() -> None:
    raw = "MSH|^~\\&|HIS|億院|DC|DC|2024||ADT^A04|C3|P|2.4\rPID".encode("gbk")
    msh = read_msh(raw, default_codec="gb18030")
    assert (msh.sending_facility, msh.control_id, msh.codec) == ("億院", "C3", "gb18030")


def test_utf8_msh_with_a_gbk_default_reads_its_declared_charset() -> None:
    raw = "MSH|^~\\&|HIS|協和|DC|DC|2024||ADT^A04|C4|P|2.5||||||UNICODE UTF-8".encode()
    msh = read_msh(raw, default_codec="gb18030")
    assert (msh.sending_facility, msh.codec) == ("協和", "utf-8")


def test_undecodable_bytes_in_msh_are_kept_not_dropped() -> None:
    raw = b"MSH|^~\\&|HIS|H\xff\xfe|DC|DC|2024||ADT^A04|C5|P|2.5||||||UNICODE UTF-8"
    msh = read_msh(raw)
    assert msh.control_id == "C5"
    assert msh.sending_facility.encode(msh.text_codec, "surrogateescape") == b"H\xff\xfe"


def test_huge_message_reads_only_the_first_segment_quickly() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5\r" + b"OBX|1|ED|PDF||" + b"Q" * 10_000_000
    assert read_msh(raw).message_type == "ORU"


def test_result_is_frozen() -> None:
    msh = read_msh(ADT)
    with pytest.raises(AttributeError):
        msh.control_id = "other"  # type: ignore[misc]
