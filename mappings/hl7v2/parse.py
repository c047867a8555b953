"""Parse decoded HL7 v2 text into the immutable model.

Segments end with CR; LF and CR LF are tolerated (files edited elsewhere, senders that get it
wrong). Blank lines are skipped. Every other line becomes a segment, unknown and Z-segments
included: a line whose name is not three letters/digits is an error (with its position), never
silently dropped. Work per segment is one split; fields are decoded when read (see model.py).
"""

from __future__ import annotations

from mappings.hl7v2.delimiters import Delimiters
from mappings.hl7v2.errors import Hl7ParseError
from mappings.hl7v2.model import HEADER_SEGMENTS, Message, Segment

_HEADERS = ("MSH", "BHS", "FHS")


def parse(text: str, *, hex_charset: str = "utf-8") -> Message:
    """Parse one message (it must start with MSH). `hex_charset` decodes ``\\Xhh\\`` escapes."""
    text = text.lstrip("\ufeff \t\r\n")
    if not text.startswith("MSH"):
        raise Hl7ParseError("no_msh", "the message does not start with an MSH segment", location="MSH")
    delimiters = _delimiters(text, hex_charset)
    sep = delimiters.field
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    segments = []
    new = Segment  # local names: this loop is the hot path
    for number, line in enumerate(text.split("\r"), 1):
        if not line:
            continue
        fields = line.split(sep)
        name = fields[0]
        if len(name) != 3 or not name.isalnum() or not name.isascii():
            if not line.strip():
                continue
            where = f"segment {number}"
            raise Hl7ParseError("segment_name", f"{where} has no valid name", location=where)
        if name in HEADER_SEGMENTS:
            fields.insert(1, sep)  # MSH-1 is the separator itself: keep HL7 numbering
        segments.append(new(name, tuple(fields), delimiters))
    return Message(tuple(segments), delimiters)


def _delimiters(text: str, hex_charset: str) -> Delimiters:
    sep = text[3:4]
    if not sep or sep.isalnum() or sep in " \r\n\t":
        raise Hl7ParseError("separator", "MSH-1 (the field separator) is invalid", location="MSH-1")
    end = text.find(sep, 4)
    line_end = min((i for i in (text.find("\r"), text.find("\n")) if i >= 0), default=len(text))
    encoding = text[4 : end if 0 <= end < line_end else line_end]
    if not 1 <= len(encoding) <= 5:  # 5: v2.7 adds the truncation character
        raise Hl7ParseError("separator", "MSH-2 (the encoding characters) is invalid", location="MSH-2")
    return Delimiters.from_msh(sep, encoding[:4], hex_charset=hex_charset)
