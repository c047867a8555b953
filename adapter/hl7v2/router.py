"""The binding table: which handler a message goes to, chosen from its MSH by data, not by if/elif.

A binding names MSH-9 type, event and structure, MSH-11 processing id and MSH-12 version; each may be
a pattern (``*``, ``A0?``, ``2.5*``: shell-style, case-sensitive). The most specific binding that
matches wins (the one with the most fields free of wildcards); among equals, the first registered.
Versions outside v2.3.1..v2.5.1 are refused (AR 203) before any binding is looked at; a message no
binding matches is refused AR "no destination" (200).

Handlers are async callables ``(context, uow) -> HandlerResult``: they run inside the unit of work
that also records the message's outcome, so a message's effects and its "processed" mark commit
together or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from adapter.errors import NoDestination, UnsupportedVersion
from adapter.hl7v2.handler import Peer
from adapter.hl7v2.msh import Msh
from adapter.hl7v2.senders import SenderConfig
from adapter.storage.ports import UnitOfWork

MIN_VERSION, MAX_VERSION = (2, 3, 1), (2, 5, 1)
_VERSION = re.compile(r"\d+(?:\.\d+){1,2}")
_WILDCARDS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What a handler gets: the stored message, decoded, with its sender. No library objects."""

    message_id: str
    sender: str  # MSH-3^MSH-4
    msh: Msh
    raw: bytes  # as received (and stored)
    text: str  # the whole message decoded in its charset
    config: SenderConfig
    peer: Peer | None = None  # None when replayed from the store
    replay: bool = False  # True for replay/reprocess: no ACK reaches the sender

    @property
    def segments(self) -> tuple[str, ...]:
        """Segments in order (CR separated; LF and CR LF tolerated), empty ones dropped."""
        return tuple(s for s in self.text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s)

    @property
    def kind(self) -> str:
        """``ADT^A04`` (MSH-9.1^9.2), for logs, audit and the message list."""
        return message_kind(self.msh)


@dataclass(frozen=True, slots=True)
class HandlerResult:
    patient_id: str | None = None  # the Patient the message was about, if any
    resources: tuple[str, ...] = ()  # e.g. ("Patient/123/_history/2", "Encounter/9/_history/1")
    ack_text: str | None = None  # optional MSA-3 text on the AA
    response: bytes | None = None  # a whole response message (RSP^K23 …) sent instead of an ACK


MessageHandler = Callable[[MessageContext, UnitOfWork], Awaitable[HandlerResult]]


@dataclass(frozen=True, slots=True)
class Binding:
    handler: MessageHandler
    name: str  # shown in logs and the message list, e.g. "adt-patient"
    message_type: str = "*"
    trigger_event: str = "*"
    structure: str = "*"
    processing_id: str = "*"
    version: str = "*"

    @property
    def patterns(self) -> tuple[str, str, str, str, str]:
        return (self.message_type, self.trigger_event, self.structure, self.processing_id, self.version)

    @property
    def specificity(self) -> int:
        return sum(1 for pattern in self.patterns if not _WILDCARDS & set(pattern))

    def matches(self, msh: Msh) -> bool:
        values = (msh.message_type, msh.trigger_event, msh.message_structure, msh.processing_id, msh.version)
        return all(fnmatchcase(value, pattern) for value, pattern in zip(values, self.patterns, strict=True))


class BindingTable:
    """Immutable once built: ``route(msh)`` returns the winning binding or raises an AR error."""

    def __init__(self, bindings: Iterable[Binding] = ()) -> None:
        self._registered = tuple(bindings)
        # Stable sort: equal specificity keeps registration order.
        self._bindings = tuple(sorted(self._registered, key=lambda b: -b.specificity))

    @property
    def bindings(self) -> tuple[Binding, ...]:
        """In matching order: most specific first."""
        return self._bindings

    def with_binding(self, binding: Binding) -> BindingTable:
        """A new table with one more binding."""
        return BindingTable((*self._registered, binding))

    def route(self, msh: Msh) -> Binding:
        check_version(msh.version)
        for binding in self._bindings:
            if binding.matches(msh):
                return binding
        kind = message_kind(msh) or "(none)"
        raise NoDestination(f"no destination for message type {kind}", hl7_location="MSH-9")


def check_version(version: str) -> None:
    """UnsupportedVersion unless MSH-12 is v2.3.1 through v2.5.1."""
    if not _VERSION.fullmatch(version):
        raise UnsupportedVersion(f"unsupported HL7 version {version[:20]!r}", hl7_location="MSH-12")
    parts = tuple(int(p) for p in version.split("."))
    if len(parts) == 2:
        parts = (*parts, 0)
    if not MIN_VERSION <= parts <= MAX_VERSION:
        raise UnsupportedVersion(f"unsupported HL7 version {version}", hl7_location="MSH-12")


def message_kind(msh: Msh) -> str:
    return "^".join(part for part in (msh.message_type, msh.trigger_event) if part)
