"""ACK building: the sender's dialect, charset and version, checked with two independent parsers."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from adapter.errors import FrameTooLarge, InternalError, NoDestination, UndecodableText, UnparseableMessage
from adapter.hl7v2.ack import build_ack, commit_code, error_ack, new_control_id
from adapter.hl7v2.msh import read_msh

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ADT = (
    b"MSH|^~\\&|HIS|HOSP|DUALCODE|DC|20240101120000||ADT^A04^ADT_A01|MSG0001|P|2.5|||||CHN|UNICODE UTF-8"
    b"\rPID|||1"
)


def segments(ack: bytes, codec: str = "utf-8") -> list[str]:
    text = ack.decode(codec)
    assert text.endswith("\r")
    return text[:-1].split("\r")


def strictly_valid(ack: bytes, codec: str = "utf-8") -> None:
    """hl7apy's strict validation of the ACK structure for the message's own version."""
    parse_message(ack.decode(codec), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()


def test_accept_ack_swaps_sender_and_receiver_and_echoes_the_rest() -> None:
    ack = build_ack(read_msh(ADT), "AA", control_id="ACK1", now=NOW)
    assert segments(ack) == [
        "MSH|^~\\&|DUALCODE|DC|HIS|HOSP|20240506070809+0000||ACK^A04^ACK|ACK1|P|2.5||||||UNICODE UTF-8",
        "MSA|AA|MSG0001",
    ]
    strictly_valid(ack)


def test_no_destination_ack_has_err_with_table_0357_and_our_code() -> None:
    error = NoDestination("no destination for message type ADT^A04", hl7_location="MSH-9")
    ack = build_ack(read_msh(ADT), "AR", error=error, control_id="ACK2", now=NOW)
    _, msa, err = segments(ack)
    assert msa == "MSA|AR|MSG0001|no destination for message type ADT\\S\\A04"
    assert err.split("|") == [
        "ERR",
        "",
        "MSH^1^9",
        "200^Unsupported message type^HL70357",
        "E",
        "DC-4001^no destination for message type ADT\\S\\A04^L",
        "",
        "",
        "no destination for message type ADT\\S\\A04",
    ]
    parsed = hl7.parse(ack.decode())
    assert str(parsed.segment("MSA")[2]) == "MSG0001"
    assert parsed.unescape(str(parsed.segment("ERR")[8])) == "no destination for message type ADT^A04"
    strictly_valid(ack)


@pytest.mark.parametrize("version", ["2.3.1", "2.4"])
def test_older_versions_get_err_1_only_and_stay_strictly_valid(version: str) -> None:
    raw = ADT.replace(b"|2.5|", f"|{version}|".encode())
    ack = build_ack(read_msh(raw), "AE", error=UndecodableText("bad text", hl7_location="PID-5"), now=NOW)
    err = segments(ack)[2]
    assert err == "ERR|PID^1^5^102&Data type error&HL70357~PID^1^5^DC-4004&bad text&L"
    strictly_valid(ack)


@pytest.mark.parametrize("version", ["2.5", "2.5.1", "2.6", "2.7", "2.8"])
def test_newer_versions_are_strictly_valid(version: str) -> None:
    raw = ADT.replace(b"|2.5|", f"|{version}|".encode())
    ack = build_ack(read_msh(raw), "AE", error=InternalError(), now=NOW)
    assert segments(ack)[0].split("|")[11] == version
    strictly_valid(ack)


def test_msa_3_is_left_out_from_v2_7_where_it_was_withdrawn() -> None:
    raw = ADT.replace(b"|2.5|", b"|2.7|")
    assert segments(build_ack(read_msh(raw), "AR", error=NoDestination(), now=NOW))[1] == "MSA|AR|MSG0001"


def test_version_2_3_has_no_message_structure_component() -> None:
    raw = ADT.replace(b"|2.5|", b"|2.3|")
    assert segments(build_ack(read_msh(raw), "AA", now=NOW))[0].split("|")[8] == "ACK^A04"


def test_message_without_event_keeps_the_ack_structure() -> None:
    msh = read_msh(b"MSH|^~\\&|A|B|C|D|2024||ZZZ|1|P|2.5")
    assert segments(build_ack(msh, "AA", now=NOW))[0].split("|")[8] == "ACK^^ACK"
    old = read_msh(b"MSH|^~\\&|A|B|C|D|2024||ZZZ|1|P|2.2")
    assert segments(build_ack(old, "AA", now=NOW))[0].split("|")[8] == "ACK"


def test_text_is_escaped_with_the_senders_own_delimiters() -> None:
    msh = read_msh(b"MSH#$*@%#A#B#C#D#2024##ADT$A04#9#P#2.5")
    error = InternalError("a#b$c*d@e%f\rg")
    msh_seg, msa, err = segments(build_ack(msh, "AE", error=error, now=NOW))
    assert msh_seg.startswith("MSH#$*@%#C#D#A#B#")
    assert msa == "MSA#AE#9#a@F@b@S@c@R@d@E@e@T@f g"
    assert err.endswith("#a@F@b@S@c@R@d@E@e@T@f g")
    assert "ACK$A04$ACK" in msh_seg


def test_gbk_sender_gets_its_own_charset_and_bytes_back() -> None:
    text = "MSH|^~\\&|HIS|億院|DC|DC|2024||ADT^A04|G1|P|2.4||||||GB 18030-2000\rPID|||1||张三"
    raw = text.encode("gb18030")
    ack = build_ack(read_msh(raw), "AR", error=NoDestination(), control_id="A", now=NOW)
    assert "億院".encode("gb18030") in ack
    assert segments(ack, "gb18030")[0] == (
        "MSH|^~\\&|DC|DC|HIS|億院|20240506070809+0000||ACK^A04^ACK|A|P|2.4||||||GB 18030-2000"
    )
    with pytest.raises(UnicodeDecodeError):
        ack.decode("utf-8")


def test_default_charset_applies_when_msh_18_is_empty() -> None:
    raw = "MSH|^~\\&|HIS|协和|DC|DC|2024||ADT^A04|G2|P|2.4\rPID".encode("gbk")
    ack = build_ack(read_msh(raw, default_codec="gb18030"), "AR", error=NoDestination(), now=NOW)
    assert "|协和|".encode("gbk") in ack
    assert segments(ack, "gb18030")[0].split("|")[-1] == "2.4"  # no MSH-18 invented


def test_unsupported_charset_echoes_the_exact_bytes() -> None:
    raw = b"MSH|^~\\&|HIS|\xb1\xe2\xc0\xcc|DC|DC|2024||ADT^A04|K1|P|2.5||||||KS X 1001"
    ack = build_ack(read_msh(raw), "AE", error=UndecodableText("unsupported"), now=NOW)
    assert b"|HIS|\xb1\xe2\xc0\xcc|" in ack and ack.endswith(b"\r")
    assert b"|KS X 1001\r" in ack


def test_our_text_that_the_senders_charset_cannot_carry_becomes_question_marks() -> None:
    raw = ADT.replace(b"UNICODE UTF-8", b"ASCII")
    ack = build_ack(read_msh(raw), "AE", error=InternalError("错误"), now=NOW)
    assert b"MSA|AE|MSG0001|??\r" in ack


def test_no_msh_gets_a_minimal_ar_in_version_2_5() -> None:
    error = UnparseableMessage("the message does not start with an MSH segment", hl7_location="MSH")
    ack = build_ack(None, "AR", error=error, control_id="N1", now=NOW)
    msh, msa, err = segments(ack)
    assert msh == "MSH|^~\\&|DUALCODE||||20240506070809+0000||ACK^^ACK|N1|P|2.5"
    assert msa == "MSA|AR||the message does not start with an MSH segment"
    assert err.split("|")[2:4] == ["MSH^1", "100^Segment sequence error^HL70357"]
    # MSA-2 is required by the standard, but there is no control id to echo: parsers still read it.
    parsed = parse_message(ack.decode(), validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=True)
    assert parsed.msa.msa_1.value == "AR"


def test_error_ack_reads_what_it_can() -> None:
    ack = error_ack(ADT, FrameTooLarge())
    assert segments(ack)[1].startswith("MSA|AR|MSG0001|")
    assert "DC-4003^" in segments(ack)[2]
    no_msh = error_ack(b"\x00garbage", InternalError(), application="GATEWAY")
    assert segments(no_msh)[0].startswith("MSH|^~\\&|GATEWAY|")
    assert segments(no_msh)[1].startswith("MSA|AE||")


def test_error_ack_without_msh_uses_the_configured_charset() -> None:
    ack = error_ack(b"PID|||1", InternalError("内部"), default_codec="gb18030")
    assert "内部".encode("gb18030") in ack


@pytest.mark.parametrize(
    ("location", "erl"),
    [
        ("PID", "PID^1"),
        ("PID-5", "PID^1^5"),
        ("PID-5.1", "PID^1^5^1^1"),
        ("PID-5.1.2", "PID^1^5^1^1^2"),
        ("OBX[2]-5", "OBX^2^5"),
        ("nonsense", ""),
        (None, ""),
    ],
)
def test_err_2_location(location: str | None, erl: str) -> None:
    ack = build_ack(read_msh(ADT), "AE", error=InternalError(hl7_location=location), now=NOW)
    assert segments(ack)[2].split("|")[2] == erl


@pytest.mark.parametrize("code", ["AA", "AE", "AR", "CA", "CE", "CR"])
def test_every_acknowledgement_code(code: str) -> None:
    assert segments(build_ack(read_msh(ADT), code, now=NOW))[1] == f"MSA|{code}|MSG0001"


def test_unknown_acknowledgement_code_is_refused() -> None:
    with pytest.raises(ValueError, match="acknowledgement code"):
        build_ack(read_msh(ADT), "OK")


def test_commit_code() -> None:
    assert [commit_code(c) for c in ("AA", "AE", "AR", "CA")] == ["CA", "CE", "CR", "CA"]


def test_control_ids_are_fresh_and_short() -> None:
    ids = {new_control_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) <= 20 for i in ids)
    ack = build_ack(read_msh(ADT), "AA")
    assert len(segments(ack)[0].split("|")[9]) <= 20
