"""Character sets of HL7 v2 text: MSH-18 names (HL7 table 0211) to Python codecs, and strict decoding.

Why GBK and GB 2312 decode as GB 18030: GB 18030 is their superset with the same two-byte codes, and
senders that declare GB 2312 routinely send GBK-only characters; decoding with the superset keeps every
character, and encoding an ACK with it gives the same bytes for every character the sender used.

Decoding never guesses: bytes the codec cannot read raise UndecodableText naming where they are
(segment, field) and the byte offset, never the text itself (it is personal health data).
"""

from __future__ import annotations

from adapter.errors import UndecodableText

_BY_NAME: dict[str, str] = {
    # Unicode
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    # Chinese national character sets
    "GB 18030-2000": "gb18030",
    "GB 18030-2005": "gb18030",
    "GB18030-2000": "gb18030",
    "GB18030-2005": "gb18030",
    "GB 18030": "gb18030",
    "GB18030": "gb18030",
    "GBK": "gb18030",
    "CP936": "gb18030",
    "GB2312": "gb18030",
    "GB 2312": "gb18030",
    "GB2312-80": "gb18030",
    "ISO IR58": "gb18030",  # table 0211: GB 2312-80
    "EUC-CN": "gb18030",
    # Single-byte sets of table 0211
    "ASCII": "ascii",
    "8859/1": "iso8859-1",
    "8859/2": "iso8859-2",
    "8859/5": "iso8859-5",
    "8859/7": "iso8859-7",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    "BIG-5": "big5",
    "BIG5": "big5",
}


def codec_for(name: str) -> str | None:
    """The Python codec for an MSH-18 value or a configured charset name; None when unsupported.

    Names are matched without regard to case, repeated blanks or ``_`` for a blank, so a setting may
    say ``gbk`` or ``utf-8`` as well as ``GB 18030-2000`` or ``UNICODE UTF-8``.
    """
    key = " ".join(name.replace("_", " ").split()).upper()
    if not key:
        return None
    return _BY_NAME.get(key)


def resolve_default(name: str) -> str:
    """Validate a configured default charset (a setting or a per-sender value) once, at start-up."""
    codec = codec_for(name)
    if codec is None:
        raise ValueError(f"unsupported HL7 character set {name!r}")
    return codec


def decode_text(raw: bytes, codec: str | None, *, charset: str = "") -> str:
    """Decode a whole message strictly. ``codec`` None means MSH-18 named a set we do not support."""
    if codec is None:
        raise UndecodableText(
            f"the character set {_printable(charset)!r} in MSH-18 is not supported", hl7_location="MSH-18"
        )
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        location = locate(raw, exc.start)
        raise UndecodableText(
            f"byte {exc.start} ({location}) is not valid {codec}"
            + (f" (MSH-18 {_printable(charset)!r})" if charset else " (no MSH-18: the configured default)"),
            hl7_location=location,
        ) from None  # the chained exception would repeat the raw bytes


def locate(raw: bytes, offset: int) -> str:
    """``SEG[n]-field`` of a byte offset, e.g. ``PID-5`` or ``OBX[2]-5``: where a decode failed.

    Counts on bytes, which is sound up to the failing offset only for ASCII delimiters in a decodable
    prefix: good enough to point a human at the right field.
    """
    seg_start = max(raw.rfind(b"\r", 0, offset), raw.rfind(b"\n", 0, offset)) + 1
    seg_id = raw[seg_start : seg_start + 3].decode("ascii", "replace")
    if seg_id == "MSH" and len(raw) > seg_start + 3:
        sep = raw[seg_start + 3 : seg_start + 4]
        field = raw.count(sep, seg_start, offset) + (1 if offset > seg_start + 3 else 0)
    else:
        sep = raw[3:4] if raw.startswith(b"MSH") else b"|"
        field = raw.count(sep, seg_start, offset)
    sequence = _occurrence(raw, seg_start, seg_id.encode("ascii", "replace"))
    where = seg_id if sequence == 1 else f"{seg_id}[{sequence}]"
    return f"{where}-{field}" if field else where


def _occurrence(raw: bytes, seg_start: int, seg_id: bytes) -> int:
    """1-based repetition number of the segment starting at ``seg_start`` among those with its id."""
    stop = seg_start + len(seg_id)
    count = 1 if raw.startswith(seg_id) else 0
    return count + raw.count(b"\r" + seg_id, 0, stop) + raw.count(b"\n" + seg_id, 0, stop)


def _printable(text: str) -> str:
    """Charset names go into ERR text: keep them short and free of control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text[:40])
