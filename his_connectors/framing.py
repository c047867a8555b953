"""MLLP block framing for the client side: ``VT payload FS CR``.

A deliberate small copy of adapter.hl7v2.framing (his_connectors must not import adapter, and the
listener's de-framer carries server concerns: oversize answers, abandoned frames). An ACK stream
only needs this: split complete frames, skip bytes outside them.
"""

from __future__ import annotations

START = b"\x0b"
END = b"\x1c\x0d"


def frame(payload: bytes) -> bytes:
    if START in payload or b"\x1c" in payload:
        raise ValueError("an MLLP payload cannot contain VT (0x0B) or FS (0x1C)")
    return START + payload + END


class AckDeframer:
    """Feed socket reads; get back each complete payload. Tolerates a missing CR after FS."""

    __slots__ = ("_buf", "max_bytes")

    def __init__(self, max_bytes: int = 1_048_576) -> None:
        self._buf = bytearray()
        self.max_bytes = max_bytes

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            start = self._buf.find(START)
            if start < 0:
                self._buf.clear()
                return out
            end = self._buf.find(b"\x1c", start)
            if end < 0:
                del self._buf[:start]
                if len(self._buf) > self.max_bytes:
                    raise ValueError("an MLLP answer is larger than allowed")
                return out
            out.append(bytes(self._buf[start + 1 : end]))
            del self._buf[: end + 1]
