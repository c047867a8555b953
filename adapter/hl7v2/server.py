"""The asyncio MLLP server: persistent connections, every frame answered, in order.

Our own transport because the libraries fall short (docs: ARCHITECTURE.md, measured facts): hl7apy's
server takes one message per connection and hard-codes UTF-8, python-hl7's hangs on non-ASCII input.

Frames of one connection are handled strictly one after another: ACKs go back in order and a
sender's messages take effect in the order it sent them (an A08 never overtakes its A04). In enhanced
mode a message's effects run behind its CA in the connection's ``EffectsQueue`` (bounded: while it
is full the connection reads nothing), still in order; the connection drains it before it closes.
Concurrency comes from connections. Nothing a peer sends closes the listener: an oversize frame gets
AR, a handler failure gets AE 207, a peer vanishing mid-frame just ends its connection.
Message text is never logged: only peers, sizes and error codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapter.errors import DualcodeError, FrameTooLarge, InternalError, SenderNotAllowed, UnparseableMessage
from adapter.hl7v2.access import AllowList, common_name, tls_context
from adapter.hl7v2.ack import DEFAULT_APPLICATION, error_ack
from adapter.hl7v2.charsets import resolve_default
from adapter.hl7v2.effects import DEFAULT_LIMIT, EffectsQueue
from adapter.hl7v2.framing import Deframer, OversizeFrame, frame
from adapter.hl7v2.handler import Handler, Peer, RejectAll
from adapter.hl7v2.msh import read_msh

if TYPE_CHECKING:
    from adapter.settings import Settings

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024  # one read takes many small frames at once under load


@dataclass(slots=True, eq=False)  # hashed by identity: kept in a set
class _Connection:
    task: asyncio.Task[None]
    peer: Peer
    busy: bool = False  # between a read and the last ACK of what it brought


class MllpServer:
    """MLLP listener. ``start()`` binds (port 0 = a free port) and returns the address; ``stop()``
    stops accepting, lets in-flight frames finish (up to ``stop_grace_s``) and closes every connection.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 2575,
        handler: Handler | None = None,
        max_frame_bytes: int = 1_048_576,
        idle_timeout_s: float = 300.0,
        default_charset: str = "utf-8",
        application: str = DEFAULT_APPLICATION,
        stop_grace_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        allowed: AllowList | None = None,
        reuse_port: bool = False,
        effects_limit: int = DEFAULT_LIMIT,
    ) -> None:
        self._host, self._port = host, port
        self._codec = resolve_default(default_charset)
        self._application = application
        self._handler: Handler = handler or RejectAll(default_codec=self._codec, application=application)
        self._max_frame = max_frame_bytes
        self._idle = idle_timeout_s
        self._grace = stop_grace_s
        self._ssl = ssl_context
        self._allowed = allowed or AllowList()
        # SO_REUSEPORT: several worker processes each bind the same port and the kernel spreads the
        # connections (dualcode serve with http_workers > 1). Off otherwise, so that a second
        # service started by mistake fails with "address in use" instead of sharing the traffic.
        self._reuse_port = reuse_port and hasattr(socket, "SO_REUSEPORT")
        self._effects_limit = effects_limit
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._connections: set[_Connection] = set()
        self._closing = False

    @classmethod
    def from_settings(
        cls, settings: Settings, handler: Handler | None = None, *, default_charset: str | None = None
    ) -> MllpServer:
        return cls(
            host=settings.mllp_host,
            port=settings.mllp_port,
            handler=handler,
            max_frame_bytes=settings.mllp_max_frame_bytes,
            idle_timeout_s=settings.mllp_idle_timeout_s,
            default_charset=default_charset or settings.mllp_default_charset,
            ssl_context=tls_context(
                settings.mllp_tls_cert_file, settings.mllp_tls_key_file, settings.mllp_tls_client_ca_file
            ),
            allowed=AllowList.parse(settings.mllp_allowed_peers),
            reuse_port=settings.http_workers > 1,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port), once started: with port 0 this is the port actually chosen."""
        if self._address is None:
            raise RuntimeError("the MLLP server is not started")
        return self._address

    @property
    def connections(self) -> int:
        """Open client connections (for tests and the readiness view)."""
        return len(self._connections)

    async def start(self) -> tuple[str, int]:
        if self._server is not None:
            raise RuntimeError("the MLLP server is already started")
        self._closing = False
        # Messages a crash left stored but never run (enhanced mode: answered CA) run before any
        # new frame is read, so they keep their place ahead of what their senders send next.
        recover = getattr(self._handler, "recover", None)
        if recover is not None:
            await recover()
        self._server = await asyncio.start_server(
            self._serve,
            self._host,
            self._port,
            limit=4 * READ_SIZE,
            reuse_address=True,
            reuse_port=self._reuse_port or None,
            ssl=self._ssl,
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self._address = (str(host), int(port))
        log.info("MLLP listening on %s:%s%s", host, port, " (TLS)" if self._ssl else "")
        return self._address

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()  # no new connections
        for conn in list(self._connections):
            if not conn.busy:  # waiting for bytes: nothing in flight, end it now
                conn.task.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace
        while self._connections:  # busy ones finish the frames they have, then close themselves
            tasks = {conn.task for conn in self._connections}
            _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
            if pending and loop.time() >= deadline:
                log.warning("MLLP stop: %d connection(s) still busy after %.1fs", len(pending), self._grace)
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
        await server.wait_closed()
        log.info("MLLP listener stopped")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # start_server runs this callback as a task
        effects = EffectsQueue(self._effects_limit)
        conn = _Connection(task=task, peer=_peer(writer, effects, self._idle))
        self._connections.add(conn)
        deframer = Deframer(self._max_frame)
        frames = 0
        refused = not self._allowed.allows(conn.peer)
        close = False
        try:
            while not self._closing and not close:
                try:
                    async with asyncio.timeout(self._idle):
                        data = await reader.read(READ_SIZE)
                except TimeoutError:
                    log.info("MLLP %s idle for %.0fs: closing", _show(conn.peer), self._idle)
                    break
                if not data:
                    break
                conn.busy = True
                for item in deframer.feed(data):
                    if refused:  # not on the allow-list: one AR (if it has an MSH), then goodbye
                        writer.write(self._refusal(item))
                        close = True
                        break
                    answer, close = await self._answer(item, conn.peer)
                    writer.write(answer)
                    frames += 1
                    if close:
                        break
                async with asyncio.timeout(self._idle):  # a peer that never reads its ACKs
                    await writer.drain()
                conn.busy = False
        except asyncio.CancelledError:
            # stop() ends connections by cancelling them; ending normally keeps asyncio's stream
            # callback from reporting the cancellation as an unhandled error.
            if not self._closing:
                raise
        except (ConnectionError, TimeoutError) as exc:
            log.info("MLLP %s connection lost: %s", _show(conn.peer), type(exc).__name__)
        except Exception as exc:  # the outermost catch-all: log, close this connection, keep serving
            _log_failure("MLLP connection failed", exc)
        finally:
            await self._finish_effects(conn, effects)
            self._connections.discard(conn)
            if deframer.in_frame:
                dropped = deframer.pending_bytes
                log.info("MLLP %s closed mid-frame (%d bytes dropped)", _show(conn.peer), dropped)
            log.debug("MLLP %s closed after %d frame(s)", _show(conn.peer), frames)
            await _close(writer)

    async def _finish_effects(self, conn: _Connection, effects: EffectsQueue) -> None:
        """Let the effects queued behind this connection run (within the stop grace), then end its
        worker. What does not run stays stored as received, for the recovery at the next start."""
        if effects.pending:
            conn.busy = True
            try:
                # Stopping: within the grace. Otherwise (the peer left) until done: they were CA'd.
                async with asyncio.timeout(self._grace if self._closing else None):
                    await effects.drain()
            except (TimeoutError, asyncio.CancelledError):
                log.warning("MLLP %s: %d message(s) left for recovery", _show(conn.peer), effects.pending)
        await effects.close()

    async def _answer(self, item: bytes | OversizeFrame, peer: Peer) -> tuple[bytes, bool]:
        """The framed ACK for one frame (b"" for none), and whether to close the connection after it.
        Never raises for a frame's content or a handler's failure."""
        if isinstance(item, OversizeFrame):
            error: DualcodeError = FrameTooLarge(
                f"the frame is larger than the maximum of {item.max_frame_bytes} bytes"
            )
            return frame(self._error_ack(item.head, error)), False
        try:
            ack = await self._handler(item, peer)
            return (frame(ack) if ack else b""), False  # frame() refuses an ACK that would break the stream
        except SenderNotAllowed as exc:
            log.info("MLLP %s: sender not allowed, closing", _show(peer))
            return frame(self._error_ack(item, exc)), True
        except DualcodeError as exc:  # raised on purpose: it knows its code and AE/AR
            return frame(self._error_ack(item, exc)), False
        except Exception as exc:
            _log_failure("MLLP handler failed", exc)
            error = InternalError("internal error while handling the message")
            return frame(self._error_ack(item, error)), False

    def _refusal(self, item: bytes | OversizeFrame) -> bytes:
        log.info("MLLP peer not on the allow-list: refused")
        raw = item.head if isinstance(item, OversizeFrame) else item
        try:
            read_msh(raw, default_codec=self._codec)
        except UnparseableMessage:
            return b""  # nothing to answer to: just close
        return frame(self._error_ack(raw, SenderNotAllowed("this peer is not allowed to send")))

    def _error_ack(self, raw: bytes, error: DualcodeError) -> bytes:
        return error_ack(raw, error, default_codec=self._codec, application=self._application)


def _peer(writer: asyncio.StreamWriter, effects: EffectsQueue, idle_s: float) -> Peer:
    name = writer.get_extra_info("peername")
    cn = common_name(writer.get_extra_info("peercert"))

    async def send(message: bytes) -> None:
        if writer.is_closing():
            raise ConnectionResetError("the connection is closed")
        writer.write(frame(message))
        async with asyncio.timeout(idle_s):  # a peer that never reads its ACKs
            await writer.drain()

    if isinstance(name, tuple) and len(name) >= 2:
        return Peer(host=str(name[0]), port=int(name[1]), common_name=cn, send=send, effects=effects)
    return Peer(host=str(name or "unknown"), port=0, common_name=cn, send=send, effects=effects)


def _show(peer: Peer) -> str:
    return f"{peer.host}:{peer.port}"


def _log_failure(what: str, exc: BaseException) -> None:
    # The exception's message may quote message text (a decode error quotes the bytes): log its type
    # and where it happened, never its arguments.
    where = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s: %s\n%s", what, type(exc).__name__, where)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        await writer.wait_closed()
