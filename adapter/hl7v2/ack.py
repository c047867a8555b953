"""Build HL7 v2 acknowledgements (MSH, MSA, ERR) from what the incoming MSH said.

The ACK speaks the sender's dialect: its delimiters, its version, its MSH-18, encoded in its
character set (the echoed application and facility names come back as the very bytes it sent).
Errors render per HL7 v2.5: ERR-2 location, ERR-3 table 0357 code, ERR-4 severity, ERR-5 our DC
code, ERR-8 the message. Senders on v2.3.1/2.4 get ERR-1 (ELD) instead, the only field their version
has. Every version before 2.7 gets MSA-3 text, which many hospital systems still display.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime

from adapter.errors import DualcodeError, UnparseableMessage
from adapter.hl7v2.msh import DEFAULT_ENCODING_CHARS, Msh, read_msh

ACK_CODES = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})
DEFAULT_APPLICATION = "DUALCODE"
DEFAULT_VERSION = "2.5"  # when even the MSH could not be read

# HL7 table 0357, message error condition codes.
HL7_ERROR_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}

# "PID", "PID-5", "PID-5.1", "PID-5.1.2", "OBX[2]-5": our location notation (errors.hl7_location).
_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+)(?:\.(\d+))?)?)?")
_CONTROL_CHARS = dict.fromkeys(range(32), " ")


def new_control_id() -> str:
    """A fresh MSH-10 for our ACKs: time-ordered for people reading logs, at most 20 characters."""
    return f"{time.time_ns() // 1_000_000:x}{os.urandom(4).hex()}"


def commit_code(ack_code: str) -> str:
    """The enhanced-mode (accept) code for an original-mode one: AA -> CA, AE -> CE, AR -> CR."""
    return "C" + ack_code[1:] if ack_code in ("AA", "AE", "AR") else ack_code


def error_ack(
    raw: bytes,
    error: DualcodeError,
    *,
    default_codec: str = "utf-8",
    application: str = DEFAULT_APPLICATION,
    facility: str = "",
) -> bytes:
    """AE/AR (as the error says) for a frame, built from whatever MSH can be read from it."""
    try:
        msh: Msh | None = read_msh(raw, default_codec=default_codec)
    except UnparseableMessage:
        msh = None
    return build_ack(
        msh,
        error.hl7_ack,
        error=error,
        default_codec=default_codec,
        application=application,
        facility=facility,
    )


def build_ack(
    msh: Msh | None,
    ack_code: str,
    *,
    error: DualcodeError | None = None,
    text: str | None = None,
    control_id: str | None = None,
    now: datetime | None = None,
    default_codec: str = "utf-8",
    application: str = DEFAULT_APPLICATION,
    facility: str = "",
) -> bytes:
    """The ACK message (segments ending in CR, not MLLP-framed) for ``msh``; None = no MSH at all.

    ``default_codec`` encodes the ACK when there is no MSH (the sender's configured charset).
    ``text`` is MSA-3 for an ACK without an error (an error's own message is MSA-3 otherwise).
    """
    if ack_code not in ACK_CODES:
        raise ValueError(f"not an acknowledgement code: {ack_code!r}")
    base = msh or Msh(version=DEFAULT_VERSION, codec=default_codec, text_codec=default_codec)
    codec = base.text_codec
    version = base.version or DEFAULT_VERSION
    fs = base.field_sep
    stamp = (now or datetime.now().astimezone()).strftime("%Y%m%d%H%M%S%z")
    header = [
        "MSH",
        base.encoding_chars or DEFAULT_ENCODING_CHARS,
        base.receiving_application or _fit(application, codec),
        base.receiving_facility or _fit(facility, codec),
        base.sending_application,
        base.sending_facility,
        stamp,
        "",
        _message_type(base, version),
        control_id or new_control_id(),
        base.processing_id or "P",
        version,
        "",
        "",
        "",
        "",
        "",
        base.charset,
    ]
    text = _fit(error.message if error else (text or ""), codec)
    msa = ["MSA", ack_code, base.control_id]
    if text and _version(version) < (2, 7):
        msa.append(_escape(text[:80], base))
    segments = [_join(header, fs), _join(msa, fs)]
    if error is not None:
        segments.append(_join(_err(error, text, base, version), fs))
    return ("\r".join(segments) + "\r").encode(codec, "surrogateescape")


def _err(error: DualcodeError, text: str, msh: Msh, version: str) -> list[str]:
    c, s, r = msh.component_sep, msh.subcomponent_sep, msh.repetition_sep
    hl7_text = HL7_ERROR_TEXT.get(error.hl7_code, "")
    location = _location(error.hl7_location)
    if _version(version) < (2, 5):
        # v2.3.1/2.4 know only ERR-1 (ELD, repeating: segment^sequence^field^code&text&system), and
        # strict parsers refuse more fields: the HL7 code, then our DC code as a local code.
        where = c.join(location[:3] + [""] * (3 - len(location[:3])))
        return [
            "ERR",
            r.join(
                (
                    f"{where}{c}{s.join([error.hl7_code, hl7_text, 'HL70357'])}",
                    f"{where}{c}{s.join([error.code, _escape(text, msh), 'L'])}",
                )
            ),
        ]
    return [
        "ERR",
        "",
        c.join(location).rstrip(c),
        c.join([error.hl7_code, hl7_text, "HL70357"]),
        "E" if error.severity != "warning" else "W",
        c.join([error.code, _escape(text, msh), "L"]),
        "",
        "",
        _escape(text, msh),
    ]


def _location(location: str | None) -> list[str]:
    """ERL components (segment, sequence, field, repetition, component, sub-component)."""
    match = _LOCATION.fullmatch(location or "")
    if match is None:
        return []
    segment, sequence, field, component, subcomponent = match.groups()
    parts = [segment, sequence or "1", field or ""]
    if component:
        parts += ["1", component, subcomponent or ""]
    return parts


def _message_type(msh: Msh, version: str) -> str:
    c = msh.component_sep
    if _version(version) >= (2, 3, 1):  # MSH-9.3 (structure) exists, and parsers rely on it
        return f"ACK{c}{msh.trigger_event}{c}ACK"
    return f"ACK{c}{msh.trigger_event}" if msh.trigger_event else "ACK"


def _escape(text: str, msh: Msh) -> str:
    """HL7 escape sequences for our delimiters in free text; control characters become blanks."""
    e = msh.escape_char
    text = text.translate(_CONTROL_CHARS).replace(e, f"{e}E{e}")
    for char, code in (
        (msh.field_sep, "F"),
        (msh.component_sep, "S"),
        (msh.subcomponent_sep, "T"),
        (msh.repetition_sep, "R"),
    ):
        text = text.replace(char, f"{e}{code}{e}")
    return text


def _fit(text: str, codec: str) -> str:
    """Our own text in the sender's charset: characters it cannot carry become '?'."""
    return text.encode(codec, "replace").decode(codec)


def _version(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (2, 5)


def _join(fields: list[str], sep: str) -> str:
    while len(fields) > 1 and not fields[-1]:
        fields.pop()
    return sep.join(fields)
