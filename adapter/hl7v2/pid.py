"""INTERIM: a tiny PID reader (PID-3, PID-5, PID-7, PID-8), until mappings.v2_to_fhir lands.

Just enough to key per-patient ordering and to prove the gateway path with a real effect. It reads
the first PID segment with the message's own delimiters and does not unescape: to be replaced by the
mappings' parser (mappings/hl7v2) and concept maps.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.hl7v2.msh import Msh


@dataclass(frozen=True, slots=True)
class PidIdentifier:
    value: str  # CX.1
    authority: str  # CX.4 (first component)
    type_code: str  # CX.5


@dataclass(frozen=True, slots=True)
class PidSummary:
    identifiers: tuple[PidIdentifier, ...]
    family: str
    given: tuple[str, ...]
    birth_date: str  # PID-7 as sent (YYYYMMDD…)
    sex: str  # PID-8 as sent


def read_pid(segments: tuple[str, ...], msh: Msh) -> PidSummary | None:
    """The first PID segment, or None when there is none."""
    fs, cs, rs, ss = msh.field_sep, msh.component_sep, msh.repetition_sep, msh.subcomponent_sep
    for segment in segments:
        if segment[:3] != "PID":
            continue
        fields = segment.split(fs)
        fields += [""] * (9 - len(fields))  # PID-1..8 always present, empty when not sent
        field = fields.__getitem__
        identifiers = []
        for repetition in field(3).split(rs):
            parts = repetition.split(cs)
            if parts[0]:
                authority = parts[3].split(ss, 1)[0] if len(parts) > 3 else ""
                type_code = parts[4] if len(parts) > 4 else ""
                identifiers.append(PidIdentifier(parts[0], authority, type_code))
        name = field(5).split(rs, 1)[0].split(cs)
        given = tuple(part for part in name[1:3] if part)
        return PidSummary(tuple(identifiers), name[0], given, field(7)[:8], field(8))
    return None


def patient_key(segments: tuple[str, ...], msh: Msh, sender: str) -> str | None:
    """The per-patient ordering key: PID-3's first identifier within its assigning authority (the
    sender when none is given)."""
    pid = read_pid(segments, msh)
    if pid is None or not pid.identifiers:
        return None
    first = pid.identifiers[0]
    return f"{first.authority or sender}|{first.value}"
