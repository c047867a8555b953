"""Building the gateway from Settings: the sender file, the binding table, the defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.charsets import resolve_default
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.router import BindingTable
from adapter.hl7v2.senders import load_senders
from adapter.security.audit import Auditor
from adapter.storage.ports import Storage

if TYPE_CHECKING:
    from adapter.settings import Settings


def build_gateway(
    settings: Settings, storage: Storage, auditor: Auditor, *, table: BindingTable | None = None
) -> Gateway:
    """The gateway the service runs; ``table`` defaults to ``default_bindings()``."""
    senders = load_senders(
        settings.hl7_senders_file,
        default_codec=resolve_default(settings.mllp_default_charset),
        require_known=settings.hl7_require_known_sender,
    )
    table = table or default_bindings(auditor=auditor, tube_pattern=settings.sampling_tube_pattern)
    return Gateway(storage, table, senders=senders, auditor=auditor)
