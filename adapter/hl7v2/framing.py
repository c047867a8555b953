"""MLLP framing, bytes only: ``VT payload FS CR`` (HL7 v2 MLLP release 2, the block format).

The de-framer is incremental: feed it whatever a socket read returned and it hands back every frame
completed so far, keeping the unfinished tail for the next read. It never decodes text.

Why the byte values are trustworthy as delimiters: VT (0x0B) and FS (0x1C) are not legal in HL7 text
and never occur inside a multi-byte character of UTF-8 (continuation bytes 0x80-0xBF), GBK (trail
bytes 0x40-0xFE) or GB 18030 (also 0x30-0x39). So:

- a VT always starts a frame; a VT inside an unfinished frame means the sender abandoned that frame
  and started again (the partial frame is dropped and counted, never answered: it has no end);
- an FS always ends a frame; the CR after it is consumed when it comes (even in a later read) and
  tolerated when missing;
- anything outside a frame (junk, LF after FS CR, keep-alive bytes) is skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

VT = 0x0B  # start block
FS = 0x1C  # end block
CR = 0x0D  # carriage return after the end block

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"

# Enough of an oversize frame's start to read its MSH segment and answer AR from it.
OVERSIZE_HEAD_BYTES = 4096

_IDLE, _IN_FRAME, _DISCARDING, _AFTER_FS = range(4)


@dataclass(frozen=True, slots=True)
class OversizeFrame:
    """A frame went past the maximum size: answer it (AR) from ``head``; its rest is discarded."""

    head: bytes  # the first bytes of the payload (at most OVERSIZE_HEAD_BYTES and max_frame_bytes)
    max_frame_bytes: int


def frame(payload: bytes) -> bytes:
    """Wrap one message in an MLLP block. The payload must not contain VT or FS (they cannot be
    escaped, and a receiver would cut the message there)."""
    if START_BLOCK in payload or b"\x1c" in payload:
        raise ValueError("an MLLP payload cannot contain VT (0x0B) or FS (0x1C)")
    return START_BLOCK + payload + END_BLOCK


class Deframer:
    """Incremental MLLP de-framer for one connection.

    ``feed(data)`` returns, in stream order, each complete payload (``bytes``, without VT/FS/CR) and
    an ``OversizeFrame`` event for each frame that went past ``max_frame_bytes`` (payload bytes).
    The event is reported as soon as the limit is passed, so the sender is answered at once and the
    connection stays usable: the rest of that frame is discarded until its end block.
    """

    __slots__ = ("_buf", "_discarded", "_max", "_state", "abandoned_frames", "skipped_bytes")

    def __init__(self, max_frame_bytes: int = 1_048_576) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._state = _IDLE
        self._discarded = 0
        self.skipped_bytes = 0  # bytes outside any frame (not counting the CR after FS)
        self.abandoned_frames = 0  # frames restarted by a VT before their end block

    @property
    def in_frame(self) -> bool:
        """True while a frame has started and not ended (a peer closing now drops it)."""
        return self._state in (_IN_FRAME, _DISCARDING)

    @property
    def pending_bytes(self) -> int:
        """Payload bytes of the unfinished frame (buffered or discarded so far)."""
        if self._state == _IN_FRAME:
            return len(self._buf)
        return self._discarded if self._state == _DISCARDING else 0

    def feed(self, data: bytes) -> list[bytes | OversizeFrame]:
        out: list[bytes | OversizeFrame] = []
        pos, end = 0, len(data)
        while pos < end:
            state = self._state
            if state == _AFTER_FS:
                # The CR of the end block may arrive in a later read than the FS.
                if data[pos] == CR:
                    pos += 1
                self._state = _IDLE
            elif state == _IDLE:
                vt = data.find(VT, pos)
                if vt < 0:
                    self.skipped_bytes += end - pos
                    break
                self.skipped_bytes += vt - pos
                pos = vt + 1
                self._state = _IN_FRAME
            else:
                pos = self._scan_frame(data, pos, end, out)
        return out

    def _scan_frame(self, data: bytes, pos: int, end: int, out: list[bytes | OversizeFrame]) -> int:
        """Consume payload bytes from ``pos``; return where scanning continues."""
        fs = data.find(FS, pos)
        stop = end if fs < 0 else fs
        vt = data.find(VT, pos, stop)
        upto = stop if vt < 0 else vt
        if self._state == _DISCARDING:
            self._discarded += upto - pos
        elif len(self._buf) + (upto - pos) > self._max:
            self._report_oversize(data, pos, upto, out)
        else:
            self._buf += data[pos:upto]
        if vt >= 0:  # the sender started over: drop the unfinished frame
            self.abandoned_frames += 1
            self._buf.clear()
            self._discarded = 0
            self._state = _IN_FRAME
            return vt + 1
        if fs < 0:
            return end
        if self._state == _IN_FRAME:
            out.append(bytes(self._buf))
            self._buf.clear()
        self._discarded = 0
        self._state = _AFTER_FS
        return fs + 1

    def _report_oversize(self, data: bytes, pos: int, stop: int, out: list[bytes | OversizeFrame]) -> None:
        keep = min(OVERSIZE_HEAD_BYTES, self._max)
        head = bytes(self._buf[:keep])
        if len(head) < keep:
            head += data[pos : pos + keep - len(head)]
        out.append(OversizeFrame(head=head, max_frame_bytes=self._max))
        self._discarded = len(self._buf) + (stop - pos)
        self._buf.clear()
        self._state = _DISCARDING
