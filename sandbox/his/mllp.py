"""The SIMULATED HIS's MLLP receiver: answers AA (or AE / nothing / hangs up, as told) and records.

Framing is a small copy (the sandbox may import only mappings). Hospital = MSH-6 (receiving
facility). Text is decoded as UTF-8, else GB 18030 (a superset of GBK), as a tolerant HIS would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import UTC, datetime

from mappings.hl7v2 import Hl7ParseError, Message, parse
from sandbox.his.state import HisState

START, END = b"\x0b", b"\x1c\x0d"


def decode(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("gb18030", errors="replace")


def ack(message: Message, code: str, text: str = "") -> str:
    msh = message.header
    when = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    lines = [
        f"MSH|^~\\&|HIS-SIMULATOR|{msh.value(6)}|{msh.value(3)}|{msh.value(4)}|{when}||"
        f"ACK^{message.trigger_event}^ACK|A{message.control_id}|P|{message.version or '2.5'}",
        f"MSA|{code}|{message.control_id}|{text}",
    ]
    if code != "AA":
        lines.append(f"ERR|||207^Application internal error^HL70357|E||||{text}")
    return "\r".join(lines) + "\r"


class HisMllpServer:
    """asyncio server; ``start``/``stop`` bring the listener up and down (the HIS "goes away")."""

    def __init__(self, state: HisState, host: str = "127.0.0.1", port: int = 2576) -> None:
        self.state, self.host, self.port = state, host, port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._connections):
            writer.close()
        for writer in list(self._connections):
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        buffer = bytearray()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                buffer += data
                answers: list[bytes] = []  # the ACKs of one read leave in one write
                while (start := buffer.find(START)) >= 0 and (end := buffer.find(b"\x1c", start)) >= 0:
                    payload = bytes(buffer[start + 1 : end])
                    del buffer[: end + 1]
                    if not self._answer(payload, answers):
                        writer.write(b"".join(answers))
                        return
                if answers:
                    writer.write(b"".join(answers))
                    await writer.drain()
        except (OSError, ConnectionError):
            return
        finally:
            self._connections.discard(writer)
            writer.close()

    def _answer(self, payload: bytes, answers: list[bytes]) -> bool:
        """Record the message and queue its answer in ``answers``. False: hang up."""
        text = decode(payload)
        try:
            message = parse(text)
        except Hl7ParseError:
            self.state.record(hospital="?", channel="mllp", message_type="unparseable", key="", raw=text,
                              answered="none", accepted=False)  # fmt: skip
            return True
        hospital, key = message.header.value(6), message.control_id
        kind = f"{message.message_type}^{message.trigger_event}"
        mode = self.state.mode(hospital)
        if mode == "down":
            self.state.record(hospital=hospital, channel="mllp", message_type=kind, key=key, raw=text,
                              answered="hung up", accepted=False)  # fmt: skip
            return False
        if mode == "timeout":
            self.state.record(hospital=hospital, channel="mllp", message_type=kind, key=key, raw=text,
                              answered="none", accepted=False)  # fmt: skip
            return True
        code = "AA" if mode == "ok" else "AE"
        self.state.record(hospital=hospital, channel="mllp", message_type=kind, key=key, raw=text,
                          answered=code, accepted=code == "AA")  # fmt: skip
        answer = ack(message, code, "" if code == "AA" else "simulated refusal")
        answers.append(START + answer.encode("utf-8") + END)
        return True


class BackgroundHisMllp:
    """The receiver on its own event loop in a thread (the sandbox app's loop belongs to uvicorn)."""

    def __init__(self, state: HisState, host: str = "127.0.0.1", port: int = 2576) -> None:
        self.server = HisMllpServer(state, host, port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="his-simulator-mllp", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> BackgroundHisMllp:
        """OSError when the port is taken (the thread and its loop are ended again)."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            raise
        return self

    def go_away(self) -> None:
        """Close the listener and every connection (the HIS is down)."""
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=10)

    def come_back(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.go_away()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()
