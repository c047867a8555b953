"""Which acknowledgements a message gets: original mode, or enhanced mode per MSH-15/16 (table 0155).

Original mode: one application ACK (AA/AE/AR) after the outcome is committed.
Enhanced mode: a commit ACK (CA, or CR for a refusal) once the message is stored, as MSH-15 asks;
then the application ACK as a separate message, as MSH-16 asks. AL = always, NE = never, ER = only
on error, SU = only on success; an empty field in enhanced mode counts as AL.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.hl7v2.msh import Msh
from adapter.hl7v2.senders import SenderConfig

CONDITIONS = frozenset({"AL", "NE", "ER", "SU"})


@dataclass(frozen=True, slots=True)
class AckPlan:
    enhanced: bool
    accept: str = "AL"  # MSH-15
    application: str = "AL"  # MSH-16

    @classmethod
    def for_message(cls, msh: Msh, config: SenderConfig) -> AckPlan:
        if config.ack_mode == "original" or (config.ack_mode == "auto" and not msh.enhanced_mode):
            return cls(enhanced=False)
        return cls(True, _condition(msh.accept_ack_type), _condition(msh.application_ack_type))

    def wants_commit(self, ok: bool) -> bool:
        """Send the commit ACK (CA when ok, CR/CE when refused)?"""
        return self.enhanced and _wanted(self.accept, ok)

    def wants_application(self, ack_code: str) -> bool:
        """Send the application ACK with this MSA-1 code?"""
        return not self.enhanced or _wanted(self.application, ack_code == "AA")


def _condition(value: str) -> str:
    code = value.strip().upper()[:2]
    return code if code in CONDITIONS else "AL"


def _wanted(condition: str, ok: bool) -> bool:
    return condition == "AL" or (condition == "ER" and not ok) or (condition == "SU" and ok)


def ack_code(ack: bytes) -> str:
    """MSA-1 of an ACK we built (ASCII field, found by bytes in any of our charsets)."""
    start = ack.find(b"\rMSA")
    if start < 0:
        return ""
    sep = ack[3:4]
    fields = ack[start + 1 :].split(b"\r", 1)[0].split(sep)
    return fields[1].decode("ascii", "replace") if len(fields) > 1 else ""
