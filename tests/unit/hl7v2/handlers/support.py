"""Running one handler on one message over the in-memory store (no gateway, no sockets). Messages are
the golden files of mappings.v2_to_fhir (synthetic people) or variants of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapter.hl7v2.charsets import decode_text
from adapter.hl7v2.msh import read_msh
from adapter.hl7v2.router import HandlerResult, MessageContext, MessageHandler
from adapter.hl7v2.senders import SenderConfig, sender_key
from adapter.storage import MemoryStorage
from adapter.storage.records import StoredResource

GOLDEN = Path(__file__).resolve().parents[3] / "golden" / "v2_to_fhir"


def golden(name: str) -> bytes:
    """The file as a sender puts it on the wire: segments end in CR (the files use LF)."""
    return (GOLDEN / f"{name}.hl7").read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r")


def utf8(name: str, **replace: str) -> bytes:
    """A golden message (UTF-8) with text replaced: ``utf8("adt_a04_v25_chinese", A04_0001="X")``."""
    text = golden(name).decode()
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


def context_of(raw: bytes, config: SenderConfig | None = None) -> MessageContext:
    msh = read_msh(raw, default_codec=config.codec if config else "utf-8")
    key = sender_key(msh.sending_application, msh.sending_facility, msh.component_sep)
    text = decode_text(raw, msh.codec, charset=msh.charset)
    return MessageContext(f"m-{msh.control_id}", key, msh, raw, text, config or SenderConfig(key, "utf-8"))


async def run(
    storage: MemoryStorage, handler: MessageHandler, raw: bytes, config: SenderConfig | None = None
) -> HandlerResult:
    """The handler in one unit of work, committed when it returns (rolled back when it raises)."""
    async with storage.unit_of_work() as uow:
        return await handler(context_of(raw, config), uow)


async def read(storage: MemoryStorage, reference: str) -> StoredResource:
    kind, rid = reference.split("/")[:2]
    async with storage.unit_of_work() as uow:
        return await uow.resources.read(kind, rid)


async def every(storage: MemoryStorage, resource_type: str) -> list[dict[str, Any]]:
    async with storage.unit_of_work() as uow:
        return [s.body for s in await uow.resources.search(resource_type, [])]


def values(patient: dict[str, Any]) -> dict[str, str]:
    """system -> value of a Patient's identifiers."""
    return {str(i["system"]): str(i["value"]) for i in patient.get("identifier", [])}


def segments(message: bytes, name: str, codec: str = "utf-8") -> list[list[str]]:
    text = message.decode(codec)
    return [s.split("|") for s in text.split("\r") if s.startswith(name)]
