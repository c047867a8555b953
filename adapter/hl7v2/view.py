"""How a stored message is shown by the message API: its text (masked unless the caller is admin),
what its MSH says, its ACK and outcome.

Masking is HL7-aware on top of ``mask_text`` (ID-number- and phone-like runs anywhere): the fields
that carry names, addresses and phone numbers of people (PID, NK1, GT1, IN1) keep only each
component's first character, as ``mask_name`` does.
"""

from __future__ import annotations

from typing import Any

from adapter.errors import DualcodeError
from adapter.hl7v2.handlers.report import mapping_report
from adapter.hl7v2.msh import Msh, read_msh
from adapter.hl7v2.router import message_kind
from adapter.security.masking import mask_name, mask_text
from adapter.storage.records import StoredMessage
from mappings.hl7v2 import parse
from mappings.v2_to_fhir import SenderProfile, map_message

# Segment -> fields holding a person's name, address, phone or other free identifying text.
PERSON_FIELDS: dict[str, frozenset[int]] = {
    "PID": frozenset({5, 6, 9, 11, 13, 14}),
    "NK1": frozenset({2, 4, 5, 6, 30, 31, 32}),
    "GT1": frozenset({3, 4, 5, 6, 7}),
    "IN1": frozenset({16, 19}),
    "PD1": frozenset({4}),
}


def message_view(message: StoredMessage, codec: str, *, unmasked: bool) -> dict[str, Any]:
    text = message.raw.decode(codec, "replace")
    ack = None if message.ack is None else message.ack.decode(codec, "replace")
    if not unmasked:
        text = mask_hl7(text)
        ack = None if ack is None else mask_text(ack)
    return {
        "id": message.id,
        "sender": message.sender,
        "control_id": message.control_id,
        "received_at": message.received_at.isoformat(),
        "message_type": message.message_type,
        "status": message.status,
        "patient_id": message.patient_id,
        "resources": list(message.resources),
        "error": message.error,
        "raw": text,
        "raw_masked": not unmasked,
        "ack": ack,
        "parse": parse_view(message.raw, codec),
    }


def parse_view(raw: bytes, codec: str) -> dict[str, Any]:
    """What the MSH says (or why it could not be read): the parse result shown with each message."""
    try:
        msh: Msh = read_msh(raw, default_codec=codec)
    except DualcodeError as exc:
        return {"ok": False, "error": exc.code, "message": exc.message}
    return {
        "ok": True,
        "message_type": message_kind(msh),
        "structure": msh.message_structure,
        "processing_id": msh.processing_id,
        "version": msh.version,
        "charset": msh.charset or None,
        "codec": msh.codec,
        "accept_ack_type": msh.accept_ack_type or None,
        "application_ack_type": msh.application_ack_type or None,
        "segments": [
            s[:3].decode("ascii", "replace") for s in raw.replace(b"\n", b"\r").split(b"\r") if s.strip()
        ][:200],
        "mapping": _mapping(raw, msh),
    }


def _mapping(raw: bytes, msh: Msh) -> dict[str, Any]:
    """What the v2 -> FHIR mapping leaves out, by location and reason (never values), so nothing is
    silently dropped. Shown with the default profile: a sender's overrides can map more."""
    try:
        text = raw.decode(msh.text_codec, errors="strict")
        return mapping_report(map_message(parse(text), SenderProfile()))
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        return {"error": type(exc).__name__}


def mask_hl7(text: str) -> str:
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    sep = text[3:4] if text.startswith("MSH") and len(text) > 3 else "|"
    encoding = text[4:8] if text.startswith("MSH") else "^~\\&"
    components = set(encoding[:1] + encoding[1:2] + encoding[3:4])  # component, repetition, sub
    return "\r".join(mask_text(_mask_segment(line, sep, components)) for line in lines)


def _mask_segment(line: str, sep: str, delimiters: set[str]) -> str:
    wanted = PERSON_FIELDS.get(line[:3])
    if not wanted:
        return line
    fields = line.split(sep)
    for n in wanted:
        if n < len(fields) and fields[n]:
            fields[n] = _mask_field(fields[n], delimiters)
    return sep.join(fields)


def _mask_field(value: str, delimiters: set[str]) -> str:
    out: list[str] = []
    part: list[str] = []
    for ch in value:
        if ch in delimiters:
            out.append(mask_name("".join(part)))
            out.append(ch)
            part = []
        else:
            part.append(ch)
    out.append(mask_name("".join(part)))
    return "".join(out)
