"""Synthetic HL7 v2 messages for the gateway tests (no real people: made-up names and numbers)."""

from __future__ import annotations


def adt(
    control_id: str,
    *,
    event: str = "A04",
    patient: str = "P1001",
    family: str = "SMITH",
    given: str = "JOHN",
    application: str = "HIS",
    facility: str = "H001",
    version: str = "2.5",
    charset: str = "",
    accept: str = "",
    application_ack: str = "",
    message_type: str = "ADT",
    processing_id: str = "P",
    phone: str = "13812345678",
) -> str:
    tail = [accept, application_ack, "", charset]
    while tail and not tail[-1]:
        tail.pop()
    msh_tail = ("|||" + "|".join(tail)) if tail else ""
    return (
        f"MSH|^~\\&|{application}|{facility}|DUALCODE|DC|20261129101500||{message_type}^{event}^ADT_A01|"
        f"{control_id}|{processing_id}|{version}{msh_tail}\r"
        f"EVN|{event}|20261129101500\r"
        f"PID|1||{patient}^^^{facility}^MR||{family}^{given}||19800101|M|||Road 1^^City||{phone}\r"
        "PV1|1|O\r"
    )


def segment(message: bytes | str, name: str, codec: str = "utf-8") -> list[str]:
    text = message.decode(codec) if isinstance(message, bytes) else message
    return next(s for s in text.split("\r") if s.startswith(name)).split("|")


def msa(ack: bytes, codec: str = "utf-8") -> tuple[str, str]:
    """MSA-1 and MSA-2, split on the ACK's own field separator."""
    text = ack.decode(codec)
    fields = next(s for s in text.split("\r") if s.startswith("MSA")).split(text[3])
    return fields[1], fields[2]
