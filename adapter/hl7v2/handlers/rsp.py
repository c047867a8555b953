"""The whole answer to a query (RSP^K23, RSP^K22): MSH (the query's MSH turned around), MSA, ERR when
the query is refused, QAK (OK / NF / AE with the hit counts), the QPD echoed as received, and one PID
per person found. Written in the query's own delimiters, version and character set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.errors import DualcodeError
from adapter.hl7v2.ack import HL7_ERROR_TEXT, new_control_id
from adapter.hl7v2.router import MessageContext
from mappings.hl7v2 import Delimiters, FieldValue, Message, Segment, escape, segment

# Query response -> (message structure, query name); IHE ITI-9 (PIX) and ITI-21 (PDQ).
_STRUCTURES = {"K23": "RSP_K23", "K22": "RSP_K21"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: str  # QAK-2: OK, NF or AE
    pids: tuple[dict[int, FieldValue], ...] = ()
    error: DualcodeError | None = None
    hits: int | None = None  # total found (QAK-4); None = len(pids)


def response(context: MessageContext, query: Message, event: str, answer: Answer) -> bytes:
    d = query.delimiters
    msh = query.header
    qpd = query.find("QPD")
    ack = answer.error.hl7_ack if answer.error is not None else "AA"
    c = d.component
    header = [
        "MSH",
        d.field,
        msh.raw(2),
        msh.raw(5) or "DUALCODE",
        msh.raw(6),
        msh.raw(3),
        msh.raw(4),
        datetime.now().astimezone().strftime("%Y%m%d%H%M%S%z"),
        "",
        c.join(("RSP", event, _STRUCTURES[event])),
        new_control_id(),
        msh.raw(11) or "P",
        msh.raw(12),
        *([""] * 5),
        msh.raw(18),
    ]
    segments = [
        _raw("MSH", header, d),
        _raw("MSA", ["MSA", ack, escape(context.msh.control_id, d)], d),
    ]
    if answer.error is not None:
        segments.append(_err(answer.error, d))
    sent = len(answer.pids)
    hits = sent if answer.hits is None else answer.hits
    qak = ["QAK", qpd.raw(2) if qpd else "", answer.status, qpd.raw(1) if qpd else ""]
    if answer.status == "OK":
        qak += [str(hits), str(sent), str(max(hits - sent, 0))]
    segments.append(_raw("QAK", qak, d))
    if qpd is not None:
        segments.append(qpd)
    segments += [segment("PID", {1: str(n), **fields}, d) for n, fields in enumerate(answer.pids, 1)]
    text = "".join(s.encode() + "\r" for s in segments)
    return text.encode(context.msh.text_codec, "surrogateescape")


def by_system(identifier: dict[str, Any]) -> dict[str, Any]:
    """An identifier whose CX.5 is to come from its system (the index's type codings are ours, not
    HL7 table 0203's): without ``type``."""
    return {k: v for k, v in identifier.items() if k != "type"}


def _err(error: DualcodeError, d: Delimiters) -> Segment:
    c = d.component
    location = _location(error.hl7_location)
    code = c.join([error.hl7_code, HL7_ERROR_TEXT.get(error.hl7_code, ""), "HL70357"])
    text = escape(error.message, d)
    ours = c.join([error.code, text, "L"])
    return _raw("ERR", ["ERR", "", c.join(location), code, "E", ours, "", "", text], d)


def _location(location: str | None) -> list[str]:
    """``QPD-3.4`` -> QPD^1^3^1^4 (ERL)."""
    if not location:
        return []
    segment_name, _, rest = location.partition("-")
    field, _, component = rest.partition(".")
    parts = [segment_name, "1", field]
    if component:
        parts += ["1", component]
    return parts if field else [segment_name]


def _raw(name: str, fields: list[str], d: Delimiters) -> Segment:
    while len(fields) > 1 and not fields[-1]:
        fields.pop()
    return Segment(name, tuple(fields), d)
