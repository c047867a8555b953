"""HL7 v2 over MLLP: framing (bytes only), MSH reading, ACK building, the asyncio listener, and the
gateway behind it (message store, binding-table router, per-sender settings, ACK modes).

The listener hands each frame to a ``Handler`` (``async (frame, peer) -> ack bytes``); the service
runs ``Gateway`` there (built by ``build_gateway``). Handlers of message types are registered in the
binding table: ``adapter.hl7v2.bindings.default_bindings``. See docs/hl7v2.md.
"""

from adapter.hl7v2.access import AllowList, tls_context
from adapter.hl7v2.ack import build_ack, commit_code, error_ack, new_control_id
from adapter.hl7v2.charsets import codec_for, decode_text, resolve_default
from adapter.hl7v2.framing import Deframer, OversizeFrame, frame
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.handler import Handler, Peer, RejectAll
from adapter.hl7v2.msh import Msh, read_msh
from adapter.hl7v2.router import Binding, BindingTable, HandlerResult, MessageContext, MessageHandler
from adapter.hl7v2.senders import SenderConfig, SenderTable, load_senders
from adapter.hl7v2.server import MllpServer

__all__ = [
    "AllowList",
    "Binding",
    "BindingTable",
    "Deframer",
    "Gateway",
    "Handler",
    "HandlerResult",
    "MessageContext",
    "MessageHandler",
    "MllpServer",
    "Msh",
    "OversizeFrame",
    "Peer",
    "RejectAll",
    "SenderConfig",
    "SenderTable",
    "build_ack",
    "codec_for",
    "commit_code",
    "decode_text",
    "error_ack",
    "frame",
    "load_senders",
    "new_control_id",
    "read_msh",
    "resolve_default",
    "tls_context",
]
