"""Read the MSH segment straight from the frame's bytes: enough to route, dedupe and acknowledge.

This is the hot path for every message (and the only reading possible for a message that will not
parse), so it is a split on the first segment, not a parser. It never raises for a short or odd
MSH: missing fields read as "". It raises UnparseableMessage only when there is no MSH at all.

Why the decoding dance: the MSH segment is ASCII in practice, but a GBK facility name may hold a
trail byte equal to ``|`` or ``^`` (0x7C, 0x5E), so splitting non-ASCII bytes before decoding can
shift every later field. For a non-ASCII MSH the segment is decoded first and MSH-18 re-read from
the text, until the charset used and the charset declared agree. Fields are decoded with
``surrogateescape``: bytes the charset cannot read are kept, not dropped, and the ACK that echoes
them (encoded with the same codec) gives the sender its own bytes back.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.errors import UnparseableMessage
from adapter.hl7v2.charsets import codec_for

DEFAULT_ENCODING_CHARS = "^~\\&"
_BOM = b"\xef\xbb\xbf"
_BLANKS = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class Msh:
    """What the MSH segment says, as text. Composite fields (MSH-3..6, 15, 16) are kept whole."""

    field_sep: str = "|"  # MSH-1
    encoding_chars: str = DEFAULT_ENCODING_CHARS  # MSH-2
    sending_application: str = ""  # MSH-3
    sending_facility: str = ""  # MSH-4
    receiving_application: str = ""  # MSH-5
    receiving_facility: str = ""  # MSH-6
    timestamp: str = ""  # MSH-7
    message_type: str = ""  # MSH-9.1, e.g. ADT
    trigger_event: str = ""  # MSH-9.2, e.g. A04
    message_structure: str = ""  # MSH-9.3, e.g. ADT_A01
    control_id: str = ""  # MSH-10
    processing_id: str = ""  # MSH-11.1: P, T or D
    version: str = ""  # MSH-12.1, e.g. 2.5
    accept_ack_type: str = ""  # MSH-15: AL, NE, ER, SU (empty = original mode)
    application_ack_type: str = ""  # MSH-16
    charset: str = ""  # MSH-18 as sent (first repetition); "" = not declared
    codec: str | None = "utf-8"  # codec of the message text: MSH-18's, else the default; None = unsupported
    # The codec these fields were read with (surrogateescape), and the one to encode the ACK with so
    # the sender gets its own bytes back. Differs from ``codec`` only when that one is unusable.
    text_codec: str = "utf-8"

    @property
    def component_sep(self) -> str:
        return _char(self.encoding_chars, 0)

    @property
    def repetition_sep(self) -> str:
        return _char(self.encoding_chars, 1)

    @property
    def escape_char(self) -> str:
        return _char(self.encoding_chars, 2)

    @property
    def subcomponent_sep(self) -> str:
        return _char(self.encoding_chars, 3)

    @property
    def enhanced_mode(self) -> bool:
        """MSH-15/16 present: the sender asked for enhanced acknowledgement (CA, then the app ACK)."""
        return bool(self.accept_ack_type or self.application_ack_type)


def read_msh(raw: bytes, *, default_codec: str = "utf-8") -> Msh:
    """Read the MSH of a frame payload. ``default_codec`` applies when MSH-18 is empty (a per-sender
    setting: many HIS send GBK without saying so)."""
    start = _msh_start(raw)
    sep_byte = raw[start + 3 : start + 4]
    if not _valid_separator(sep_byte):
        raise UnparseableMessage("MSH-1 (the field separator) is missing or invalid", hl7_location="MSH-1")
    segment = raw[start : _segment_end(raw, start)]
    sep = sep_byte.decode("ascii")
    if segment.isascii():  # the usual case: one decode, one split
        fields = segment.decode("ascii").split(sep)
        declared = _declared_charset(fields)
        return _build(fields, sep, declared, codec_for(declared) if declared else default_codec)
    return _read_non_ascii(segment, sep, default_codec)


def _read_non_ascii(segment: bytes, sep: str, default_codec: str) -> Msh:
    # Accept the first reading that decodes cleanly and declares (or defaults to) the codec it was
    # read with; the byte-level sniff of MSH-18 is tried first, as it is right nearly always.
    # Failing that, prefer a clean reading that found an MSH-18 (even one we do not support).
    sniffed = codec_for(_sniff_charset(segment, sep))
    best: tuple[int, list[str], str, str | None, str] | None = None
    for codec in dict.fromkeys(c for c in (sniffed, default_codec, "gb18030") if c):
        fields, clean = _decode_fields(segment, codec, sep)
        declared = _declared_charset(fields)
        wanted = codec_for(declared) if declared else default_codec
        if wanted == codec and clean:
            return _build(fields, sep, declared, codec)
        score = 2 * (clean and bool(declared)) + (wanted == codec)
        if best is None or score > best[0]:
            best = (score, fields, declared, wanted, codec)
    assert best is not None  # default_codec is always a candidate
    _, fields, declared, wanted, codec = best
    return _build(fields, sep, declared, wanted, text_codec=codec)


def _decode_fields(segment: bytes, codec: str, sep: str) -> tuple[list[str], bool]:
    """Fields, and whether the codec read every byte (else undecodable bytes are kept escaped)."""
    try:
        return segment.decode(codec).split(sep), True
    except UnicodeDecodeError:
        pass
    try:
        return segment.decode(codec, "surrogateescape").split(sep), False
    except UnicodeDecodeError:  # a multi-byte codec flagged an ASCII byte; ASCII always works
        return segment.decode("ascii", "surrogateescape").split(sep), False


def _build(
    fields: list[str], sep: str, declared: str, codec: str | None, *, text_codec: str | None = None
) -> Msh:
    n = len(fields)

    def field(number: int) -> str:  # MSH-n is fields[n - 1]: MSH-1 is the separator itself
        return fields[number - 1] if number - 1 < n else ""

    encoding_chars = field(2) or DEFAULT_ENCODING_CHARS
    component = _char(encoding_chars, 0)
    message_type = field(9).split(component)
    return Msh(
        field_sep=sep,
        encoding_chars=encoding_chars,
        sending_application=field(3),
        sending_facility=field(4),
        receiving_application=field(5),
        receiving_facility=field(6),
        timestamp=field(7),
        message_type=message_type[0],
        trigger_event=message_type[1] if len(message_type) > 1 else "",
        message_structure=message_type[2] if len(message_type) > 2 else "",
        control_id=field(10),
        processing_id=field(11).split(component, 1)[0],
        version=field(12).split(component, 1)[0],
        accept_ack_type=field(15),
        application_ack_type=field(16),
        charset=declared,
        codec=codec,
        text_codec=text_codec or codec or "ascii",
    )


def _msh_start(raw: bytes) -> int:
    """Offset of "MSH", past a UTF-8 BOM and blank lines some senders put first."""
    body = raw[3:] if raw.startswith(_BOM) else raw
    start = len(raw) - len(body.lstrip(_BLANKS))
    if raw[start : start + 3] != b"MSH":
        raise UnparseableMessage("the message does not start with an MSH segment", hl7_location="MSH")
    return start


def _valid_separator(sep: bytes) -> bool:
    # Any printable ASCII punctuation; letters, digits, blanks and controls would make the
    # segment unreadable (and a CR here means MSH-1 is simply absent).
    return len(sep) == 1 and 0x21 <= sep[0] <= 0x7E and not sep.isalnum()


def _segment_end(raw: bytes, start: int) -> int:
    """Segments end with CR; LF and CR LF are tolerated (files edited on other systems)."""
    cr = raw.find(b"\r", start)
    end = len(raw) if cr < 0 else cr
    lf = raw.find(b"\n", start, end)
    return end if lf < 0 else lf


def _declared_charset(fields: list[str]) -> str:
    if len(fields) < 18:
        return ""
    repetition = _char(fields[1], 1) if len(fields) > 1 else "~"
    return fields[17].split(repetition, 1)[0].strip()


def _sniff_charset(segment: bytes, sep: str) -> str:
    """MSH-18 read from bytes: right unless a multi-byte character before it hides a separator."""
    parts = segment.split(sep.encode("ascii"))
    if len(parts) < 18:
        return ""
    repetition = _char(parts[1].decode("ascii", "replace"), 1).encode("ascii", "replace")
    return parts[17].split(repetition, 1)[0].decode("ascii", "replace").strip()


def _char(encoding_chars: str, index: int) -> str:
    """One encoding character, HL7's default when MSH-2 is short."""
    return encoding_chars[index] if len(encoding_chars) > index else DEFAULT_ENCODING_CHARS[index]
