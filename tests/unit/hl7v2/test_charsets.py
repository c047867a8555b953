"""Charset names and strict decoding: never hang, never drop, never guess."""

from __future__ import annotations

import os
import time

import pytest

from adapter.errors import UndecodableText
from adapter.hl7v2.charsets import codec_for, decode_text, locate, resolve_default

NAME = "张三丰"  # synthetic


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("UNICODE UTF-8", "utf-8"),
        ("unicode  utf-8", "utf-8"),
        ("UNICODE_UTF-8", "utf-8"),
        ("utf-8", "utf-8"),
        ("GB 18030-2000", "gb18030"),
        ("GB18030", "gb18030"),
        ("GBK", "gb18030"),
        ("gbk", "gb18030"),
        ("CP936", "gb18030"),
        ("GB2312", "gb18030"),
        ("ASCII", "ascii"),
        ("8859/1", "iso8859-1"),
        ("BIG-5", "big5"),
        ("", None),
        ("UNICODE UTF-16", None),  # not ASCII-compatible: MSH could not even be read
        ("KS X 1001", None),
        ("EBCDIC", None),
    ],
)
def test_codec_for(name: str, codec: str | None) -> None:
    assert codec_for(name) == codec


def test_resolve_default_refuses_unknown_names() -> None:
    assert resolve_default("GBK") == "gb18030"
    with pytest.raises(ValueError, match="unsupported"):
        resolve_default("klingon")


@pytest.mark.parametrize("codec", ["utf-8", "gb18030"])
def test_round_trip_keeps_every_character(codec: str) -> None:
    text = f"MSH|^~\\&|A\rPID|||1||{NAME}^^^^^^L~億|||𠀀"  # 𠀀: outside the BMP, 4 bytes in GB 18030
    assert decode_text(text.encode(codec), codec) == text


def test_gbk_bytes_decode_with_the_gb18030_superset() -> None:
    text = "PID|||1||億張三"
    assert decode_text(text.encode("gbk"), codec_for("GBK")) == text


def test_gbk_sent_as_utf8_is_refused_with_a_location_and_no_text() -> None:
    text = f"MSH|^~\\&|A|B|C|D|2024||ADT^A04|1|P|2.5||||||UNICODE UTF-8\rEVN|A04\rPID|||1||{NAME}"
    raw = text.encode("gbk")
    with pytest.raises(UndecodableText) as caught:
        decode_text(raw, "utf-8", charset="UNICODE UTF-8")
    error = caught.value
    assert error.hl7_location == "PID-5"
    assert "utf-8" in error.message and "UNICODE UTF-8" in error.message
    assert NAME not in error.message and error.__cause__ is None and error.__suppress_context__


def test_unsupported_charset_is_undecodable() -> None:
    with pytest.raises(UndecodableText) as caught:
        decode_text(b"MSH|^~\\&|", None, charset="KS X 1001")
    assert caught.value.hl7_location == "MSH-18" and "KS X 1001" in caught.value.message


def test_no_msh_18_says_the_default_was_used() -> None:
    with pytest.raises(UndecodableText, match="configured default"):
        decode_text(b"MSH|^~\\&|\rPID|||\xff", "utf-8")


def test_binary_garbage_fails_fast_in_every_codec() -> None:
    garbage = os.urandom(2_000_000)
    for codec in ("utf-8", "gb18030", "ascii"):
        started = time.perf_counter()
        with pytest.raises(UndecodableText):
            decode_text(b"MSH|^~\\&|\r" + garbage + b"\x80", codec)
        assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("raw", "offset", "where"),
    [
        (b"MSH|^~\\&|A|B", 11, "MSH-4"),
        (b"MSH|^~\\&|A|B", 5, "MSH-2"),
        (b"MSH|^~\\&|A|B", 2, "MSH"),
        (b"MSH|^~\\&|A\rPID|1|2|x", 19, "PID-3"),
        (b"MSH|^~\\&|A\rOBX|1|x\rOBX|2|y", 25, "OBX[2]-2"),
        (b"MSH|^~\\&|A\nOBX|1|x\nOBX|2|y\nOBX|3", 29, "OBX[3]"),
        (b"MSH|^~\\&|A\nOBX|1|x\nOBX|2|y\nOBX|3", 31, "OBX[3]-1"),
        (b"MSH#^~\\&#A\rPID#1#2", 17, "PID-2"),
    ],
)
def test_locate(raw: bytes, offset: int, where: str) -> None:
    assert locate(raw, offset) == where
