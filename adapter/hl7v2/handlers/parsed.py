"""A message as the mappings see it: parsed once (mappings.hl7v2), mapped with the sender's profile
(mappings.v2_to_fhir), and the per-patient ordering key read from its PID-3.

Parsing is cached on the decoded text (immutable), so the gateway's lock key and the handler share
one parse. A text the parser refuses is answered AR with the parser's location.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from adapter.errors import UnparseableMessage
from adapter.hl7v2.router import MessageContext
from adapter.hl7v2.senders import SenderConfig
from mappings.hl7v2 import Hl7ParseError, Message, parse
from mappings.v2_to_fhir import SenderProfile, V2Result, map_message

_HOSPITAL_CODE = re.compile(r"[A-Za-z0-9._-]+")


# SenderConfig is frozen but not hashable (its mappings): remembered by identity, with a reference to
# it so the id stays its own. Building a profile validates it again: ~40 µs, three times a message.
_PROFILES: dict[int, tuple[SenderConfig, SenderProfile]] = {}
_PROFILES_MAX = 1024


def sender_profile(config: SenderConfig) -> SenderProfile:
    """The sender's profile; without a configured hospital code, MSH-4.1 (from the sender key) is the
    hospital whose MR/PI numbers carry no CX.4, when it can name an identifier system."""
    known = _PROFILES.get(id(config))
    if known is not None and known[0] is config:
        return known[1]
    profile = config.profile
    if not profile.hospital_code:
        facility = config.key.partition("^")[2]
        if _HOSPITAL_CODE.fullmatch(facility):
            profile = replace(profile, hospital_code=facility)
    if len(_PROFILES) >= _PROFILES_MAX:
        _PROFILES.clear()
    _PROFILES[id(config)] = (config, profile)
    return profile


def hospital_source(profile: SenderProfile, sender: str) -> str:
    """The PersonFacts source for this sender: ``his:<hospital code>``."""
    code = profile.hospital_code or sender.replace("^", ".")
    return f"his:{re.sub(r'[^A-Za-z0-9._-]', '-', code) or 'unknown'}"


@lru_cache(maxsize=16)  # the lock key and the handler share a parse; bounded memory
def _parse(text: str) -> Message:
    return parse(text)


def parsed(context: MessageContext) -> Message:
    try:
        return _parse(context.text)
    except Hl7ParseError as exc:
        raise UnparseableMessage(
            f"the message could not be parsed: {exc}", hl7_location=_where(exc)
        ) from None


def mapped(context: MessageContext) -> tuple[Message, V2Result]:
    message = parsed(context)
    return message, map_message(message, sender_profile(context.config))


def patient_key(context: MessageContext) -> str | None:
    """The per-patient ordering key: PID-3's first identifier within its assigning authority (CX.4.1,
    else the sender). None without a PID, a PID-3, or a parse."""
    try:
        pid = _parse(context.text).find("PID")
    except Hl7ParseError:
        return None
    if pid is None:
        return None
    first = pid.field(3).repetition()
    value = first.component(1)
    if not value:
        return None
    return f"{first.subcomponent(4, 1) or context.sender}|{value}"


def _where(exc: Hl7ParseError) -> str | None:
    location = getattr(exc, "location", None)
    return (
        location if isinstance(location, str) and re.fullmatch(r"[A-Z][A-Z0-9]{2}(-\d+)?", location) else None
    )
