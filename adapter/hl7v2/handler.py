"""The contract between the MLLP transport and whatever gives messages meaning, and today's stub.

The transport hands each complete frame payload to ``handle(frame, peer)`` and writes back the bytes
it returns (an ACK message, unframed). Frames of one connection are handled one after another, so a
handler sees a sender's messages in the order they were sent. Work a handler leaves behind its
answer (the enhanced-mode effects) goes to the connection's ``EffectsQueue``, which runs it in that
same order. The message store, router and per-sender charset of the HL7 gateway live behind this
one call; the transport does not change.
Returning ``b""`` sends nothing (for a message whose sender asked for no acknowledgement).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from adapter.errors import NoDestination, UndecodableText, UnparseableMessage
from adapter.hl7v2.ack import DEFAULT_APPLICATION, build_ack
from adapter.hl7v2.charsets import decode_text
from adapter.hl7v2.effects import EffectsQueue
from adapter.hl7v2.msh import read_msh


@dataclass(frozen=True, slots=True)
class Peer:
    """Who is on the other end of the connection (the sender is identified later, from its MSH or
    its address, by the handler)."""

    host: str
    port: int
    common_name: str | None = None  # CN of the client certificate, on a TLS connection that has one
    # Writes one message (framed by the transport) to this connection at once, ahead of the handler's
    # return value: the enhanced-mode commit ACK goes out as soon as the message is stored.
    send: Callable[[bytes], Awaitable[None]] | None = field(default=None, compare=False, repr=False)
    # The connection's effects queue: in enhanced mode the gateway runs a message's effects there,
    # behind its CA, while the connection goes on reading (``effects``). None: run them inline.
    effects: EffectsQueue | None = field(default=None, compare=False, repr=False)


Handler = Callable[[bytes, Peer], Awaitable[bytes]]


class RejectAll:
    """The stub handler: no message has a destination yet, so every one is answered AR with ERR
    "no destination" (HL7 200), built from its MSH. A message without an MSH gets AR 100, and one whose
    text does not decode in its charset gets AE 102: the answers the full gateway will give too.
    """

    def __init__(self, *, default_codec: str = "utf-8", application: str = DEFAULT_APPLICATION) -> None:
        self._codec = default_codec
        self._application = application

    async def __call__(self, frame: bytes, peer: Peer) -> bytes:
        try:
            msh = read_msh(frame, default_codec=self._codec)
        except UnparseableMessage as exc:
            return build_ack(
                None, exc.hl7_ack, error=exc, default_codec=self._codec, application=self._application
            )
        try:
            decode_text(frame, msh.codec, charset=msh.charset)  # never hangs, never guesses
        except UndecodableText as exc:
            return build_ack(msh, exc.hl7_ack, error=exc, application=self._application)
        kind = "^".join(part for part in (msh.message_type, msh.trigger_event) if part) or "(none)"
        error = NoDestination(f"no destination for message type {kind}", hl7_location="MSH-9")
        return build_ack(msh, error.hl7_ack, error=error, application=self._application)
