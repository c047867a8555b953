"""A blocking raw-socket MLLP client for tests: an independent reading of the wire, not our framing."""

from __future__ import annotations

import socket
import time

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def unframe(data: bytes) -> list[bytes]:
    """The replies as sent: VT ack FS CR, nothing in between."""
    *blocks, rest = data.split(FS + CR)
    assert rest == b""
    assert all(block.startswith(VT) for block in blocks)
    return [block[1:] for block in blocks]


def raw_client(port: int, writes: list[bytes], expect: int, *, pause: float = 0.02) -> list[bytes]:
    """Each write a separate send (with a pause), then read ``expect`` replies (or until closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, chunk in enumerate(writes):
            if i:
                time.sleep(pause)
            sock.sendall(chunk)
        data = b""
        while data.count(FS + CR) < expect:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return unframe(data)
