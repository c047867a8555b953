"""HL7 v2 over MLLP to a HIS: one persistent connection, ACKs correlated on MSA-2 = MSH-10.

Several messages may be in flight on the connection at once (different patients); each waits for
the ACK that names its control id. A timeout or a lost connection closes the connection (a late ACK
must not be taken for a later message's) and fails every message still waiting: the dispatcher
sends them again with the same MSH-10, so a HIS that de-duplicates sees each once. Reconnects back
off exponentially, failing fast in between instead of queueing behind a dead peer.

Messages sent in one turn of the event loop leave in one write (one system call for a whole claim
round's messages instead of one each); the transport's buffer is drained only when it grows large.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from his_connectors.base import Envelope, Health, Receipt, RenderError
from his_connectors.framing import AckDeframer, frame
from his_connectors.hl7 import render_v2_batch
from his_connectors.profiles import VendorProfile, load_profile
from mappings.hl7v2 import Hl7ParseError, parse


@dataclass(frozen=True, slots=True)
class Ack:
    code: str  # MSA-1: AA CA AE AR CE CR
    control_id: str  # MSA-2
    text: str  # MSA-3 / ERR text, for the operator


class MllpUnavailable(ConnectionError):
    pass


_HIGH_WATER = 1 << 20  # bytes buffered in the transport before a sender waits for the socket


class MllpConnector:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = 10.0,
        encoding: str = "utf-8",
        hl7_version: str = "2.5",
        profile: VendorProfile | None = None,
        connect_timeout_s: float = 3.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
    ) -> None:
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        self.encoding = encoding
        self.hl7_version = hl7_version
        self.profile = profile or load_profile("default")
        self._connect_timeout_s = connect_timeout_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._delay = 0.0
        self._next_try = 0.0
        self._lock = asyncio.Lock()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[Ack]] = {}
        self._outgoing: list[bytes] = []  # frames of this loop turn, written together by _flush

    async def deliver(self, envelope: Envelope) -> Receipt:
        try:
            messages = [
                (control_id, text.encode(self.encoding))
                for control_id, text in render_v2_batch(
                    envelope, profile=self.profile, version=self.hl7_version, encoding=self.encoding
                )
            ]
        except (RenderError, UnicodeEncodeError) as error:
            return Receipt.failed(f"cannot render: {error}", retryable=False)
        if len(messages) == 1:
            return await self._deliver_one(*messages[0])
        # Several messages (a tube's OML^O21s): delivered when every one is accepted; a retry sends
        # them all again with the same control ids (a de-duplicating HIS ignores the repeats).
        receipts = await asyncio.gather(*(self._deliver_one(cid, payload) for cid, payload in messages))
        refused = [r for r in receipts if not r.delivered]
        if refused:
            return Receipt.failed(
                f"{len(refused)} of {len(receipts)} messages not accepted: {refused[0].detail}",
                retryable=all(r.retryable for r in refused),
            )
        return Receipt.ok(",".join(cid for cid, _ in messages)[:200])

    async def _deliver_one(self, control_id: str, payload: bytes) -> Receipt:
        try:
            ack = await self.send_and_wait(payload, control_id)
        except TimeoutError:
            return Receipt.failed(f"no ACK within {self.timeout_s:g}s")
        except (OSError, MllpUnavailable) as error:
            return Receipt.failed(f"HIS unreachable: {type(error).__name__}")
        if ack.code in ("AA", "CA"):
            return Receipt.ok(ack.control_id)
        return Receipt.failed(f"{ack.code}: {ack.text}".strip(": "), reference=ack.control_id)

    async def send_and_wait(self, payload: bytes, control_id: str) -> Ack:
        """Send one framed message and wait for its ACK (MSA-2 = control_id)."""
        if control_id in self._waiting:
            raise MllpUnavailable("this control id is already in flight")
        writer = await self._connection()
        waiter: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._waiting[control_id] = waiter
        try:
            framed = frame(payload)
            if not self._outgoing:
                asyncio.get_running_loop().call_soon(self._flush)
            self._outgoing.append(framed)
            if writer.transport.get_write_buffer_size() > _HIGH_WATER:
                await writer.drain()
            return await asyncio.wait_for(waiter, self.timeout_s)
        except TimeoutError:
            await self._drop(MllpUnavailable("ACK timeout"))
            raise
        except OSError as error:
            await self._drop(error)
            raise
        finally:
            self._waiting.pop(control_id, None)

    def _flush(self) -> None:
        frames, self._outgoing, writer = self._outgoing, [], self._writer
        if frames and writer is not None and not writer.is_closing():
            writer.write(b"".join(frames))
        # a dropped connection clears the frames: their waiters failed, the dispatcher sends again

    async def health(self) -> Health:
        try:
            await self._connection()
        except (OSError, MllpUnavailable, TimeoutError) as error:
            return Health(False, f"mllp://{self.host}:{self.port} {type(error).__name__}")
        return Health(True, f"mllp://{self.host}:{self.port} connected")

    async def close(self) -> None:
        await self._drop(MllpUnavailable("connector closed"))

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def _connection(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        async with self._lock:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            if time.monotonic() < self._next_try:
                raise MllpUnavailable("backing off before reconnecting")
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self._connect_timeout_s
                )
            except (OSError, TimeoutError):
                initial, ceiling = self._backoff
                self._delay = min(ceiling, self._delay * 2 if self._delay else initial)
                self._next_try = time.monotonic() + self._delay
                raise
            self._delay, self._next_try = 0.0, 0.0
            self._writer = writer
            self._reader_task = asyncio.create_task(self._read_acks(reader, writer))
            return writer

    async def _read_acks(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        deframer = AckDeframer()
        error: BaseException = MllpUnavailable("the HIS closed the connection")
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for payload in deframer.feed(data):
                    ack = self._parse_ack(payload)
                    waiter = self._waiting.get(ack.control_id) if ack else None
                    if waiter is not None and not waiter.done():
                        waiter.set_result(ack)  # type: ignore[arg-type]
        except (OSError, ValueError) as failure:
            error = failure
        finally:
            if self._writer is writer:
                self._fail_waiting(error)
                self._writer, self._outgoing = None, []
            writer.close()

    def _parse_ack(self, payload: bytes) -> Ack | None:
        text = payload.decode(self.encoding, errors="replace")
        fast = _plain_accept(text)
        if fast is not None:
            return fast
        try:
            message = parse(text)
        except Hl7ParseError:
            return None
        msa = message.find("MSA")
        if msa is None:
            return None
        err = message.find("ERR")
        text = msa.value(3)
        if err is not None:
            text = err.value(8) or err.value(3, 2) or err.value(1, 4) or text
        return Ack(msa.value(1), msa.value(2), text[:300])

    def _fail_waiting(self, error: BaseException) -> None:
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(MllpUnavailable(str(error) or type(error).__name__))

    async def _drop(self, error: BaseException) -> None:
        writer, task = self._writer, self._reader_task
        self._writer, self._reader_task, self._outgoing = None, None, []
        self._fail_waiting(error)
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _plain_accept(text: str) -> Ack | None:
    """The common answer read without a full parse: MSA|AA|<id> (or CA) with nothing to unescape.
    None for anything else (refusals, escapes, odd shapes): those take the full parse."""
    if len(text) < 8 or not text.startswith("MSH"):
        return None
    fs, escape = text[3], text[6:7]
    at = text.find("\rMSA" + fs)
    if at < 0:
        return None
    line = text[at + 1 :].split("\r", 1)[0]
    fields = line.split(fs)
    if len(fields) < 3 or fields[1] not in ("AA", "CA") or (escape and escape in fields[2]):
        return None
    return Ack(fields[1], fields[2], "")
