"""What a mapping left out, by location only (never a value): the message's unmapped segments and
fields, values that were present but unusable, and parts of the Patient the index does not keep.

It goes into the stored ACK (MSA-3, a short form) and the log (a count), so nothing is dropped
without a word; ``mapping_report`` gives the whole list for the message view.
"""

from __future__ import annotations

import logging
from typing import Any

from adapter.hl7v2.handlers.person import not_kept
from mappings.v2_to_fhir import V2Result

log = logging.getLogger("adapter.hl7v2.handlers")
_MSA_3 = 80  # MSA-3 is 80 characters at most before v2.7


def mapping_report(result: V2Result) -> dict[str, Any]:
    """Locations and reasons (no values): ``unmapped``, ``issues``, ``not_kept``, ``cleared``."""
    return {
        "unmapped": [{"location": u.location, "reason": u.reason} for u in result.unmapped],
        "issues": [{"location": u.location, "reason": u.reason} for u in result.issues],
        "not_kept": list(not_kept(result)),
        "cleared": list(result.cleared),
    }


def locations(result: V2Result) -> tuple[str, ...]:
    seen = [u.location for u in (*result.unmapped, *result.issues)] + list(not_kept(result))
    return tuple(dict.fromkeys(seen))


def ack_note(result: V2Result, kind: str) -> str | None:
    """MSA-3 for the AA: which parts were not mapped (``not mapped: ZPI, PID-33 +2``), or None."""
    parts = locations(result)
    if not parts:
        return None
    log.info("HL7 %s: %d part(s) not mapped or not kept", kind, len(parts))
    text = "not mapped: "
    for index, part in enumerate(parts):
        more = f" +{len(parts) - index}"
        piece = ("" if index == 0 else ", ") + part
        if len(text) + len(piece) + len(more) > _MSA_3:
            return text + more
        text += piece
    return text
