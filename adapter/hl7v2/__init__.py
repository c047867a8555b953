"""HL7 v2 over MLLP: framing (bytes only), MSH reading, ACK building and the asyncio listener.

The listener hands each frame to a ``Handler`` (``async (frame, peer) -> ack bytes``); today's
handler answers every message AR "no destination". The HL7 gateway (message store, router,
per-sender charsets) plugs in as another handler.
"""

from adapter.hl7v2.ack import build_ack, commit_code, error_ack, new_control_id
from adapter.hl7v2.charsets import codec_for, decode_text, resolve_default
from adapter.hl7v2.framing import Deframer, OversizeFrame, frame
from adapter.hl7v2.handler import Handler, Peer, RejectAll
from adapter.hl7v2.msh import Msh, read_msh
from adapter.hl7v2.server import MllpServer

__all__ = [
    "Deframer",
    "Handler",
    "MllpServer",
    "Msh",
    "OversizeFrame",
    "Peer",
    "RejectAll",
    "build_ack",
    "codec_for",
    "commit_code",
    "decode_text",
    "error_ack",
    "frame",
    "new_control_id",
    "read_msh",
    "resolve_default",
]
