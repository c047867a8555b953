"""MLLP de-framing, alone. Every stream is checked against a byte-at-a-time reference model under
every way of cutting it into reads: all single cuts, all pairs of cuts, byte by byte, and seeded
random streams with random cuts (what hypothesis would do, without the dependency)."""

from __future__ import annotations

import itertools
import random

import pytest

from adapter.hl7v2.framing import OVERSIZE_HEAD_BYTES, Deframer, OversizeFrame, frame

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
MSG = b"MSH|^~\\&|HIS|H|DC|DC|20240101||ADT^A04|1|P|2.5\rPID|||1"
GBK = "MSH|^~\\&|HIS|億院|DC|DC|20240101||ADT^A04|2|P|2.4\rPID|||張^三".encode("gbk")  # 0x7C trail bytes

Event = bytes | tuple[str, bytes]


def reference(stream: bytes, max_frame: int) -> list[Event]:
    """The specification, one byte at a time."""
    out: list[Event] = []
    state, buf, oversize = "idle", bytearray(), False
    for byte in stream:
        if state == "after_fs":
            state = "idle"
            if byte == CR[0]:
                continue
        if state == "idle":
            if byte == VT[0]:
                state, buf, oversize = "frame", bytearray(), False
            continue
        if byte == VT[0]:  # restart
            buf, oversize = bytearray(), False
        elif byte == FS[0]:
            if not oversize:
                out.append(bytes(buf))
            state = "after_fs"
        elif not oversize:
            buf.append(byte)
            if len(buf) > max_frame:
                out.append(("oversize", bytes(buf[: min(OVERSIZE_HEAD_BYTES, max_frame)])))
                oversize = True
    return out


def run(chunks: list[bytes], max_frame: int) -> list[Event]:
    deframer = Deframer(max_frame)
    out: list[Event] = []
    for chunk in chunks:
        for item in deframer.feed(chunk):
            out.append(("oversize", item.head) if isinstance(item, OversizeFrame) else item)
    return out


def cut(stream: bytes, points: tuple[int, ...]) -> list[bytes]:
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


STREAMS = {
    "several frames, junk, empty frame": b"junk\n" + frame(MSG) + frame(GBK) + frame(b"") + frame(MSG),
    "CR LF between frames": frame(MSG) + b"\r\n" + frame(MSG),
    "no CR after FS": VT + MSG + FS + VT + b"second" + FS + CR,
    "restart inside a frame": VT + b"abandoned" + VT + MSG + FS + CR,
    "oversize then normal": frame(b"x" * 40) + frame(MSG[:20]) + frame(b"y" * 21),
    "oversize restarted by VT": VT + b"z" * 30 + VT + b"ok" + FS + CR,
    "unfinished at the end": frame(MSG[:25]) + VT + b"never ends",
}


@pytest.mark.parametrize("name", STREAMS)
def test_every_single_and_double_cut_matches_the_reference(name: str) -> None:
    stream, max_frame = STREAMS[name], 20
    expected = reference(stream, max_frame)
    assert run([stream], max_frame) == expected
    assert run([bytes([b]) for b in stream], max_frame) == expected
    for i in range(len(stream) + 1):
        assert run(cut(stream, (i,)), max_frame) == expected, i
    for i, j in itertools.combinations(range(len(stream) + 1), 2):
        assert run(cut(stream, (i, j)), max_frame) == expected, (i, j)


def test_random_streams_and_random_reads_match_the_reference() -> None:
    rng = random.Random(20240101)
    alphabet = [VT, FS, CR, b"\n", b"|", b"^", b"A", b"\x7c", b"\x83", b"\xd5", b"MSH", b"\x1c\r", b"\x0b"]
    for _ in range(3000):
        stream = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        max_frame = rng.randint(1, 12)
        points = tuple(sorted(rng.sample(range(len(stream) + 1), k=min(len(stream) + 1, rng.randint(0, 6)))))
        assert run(cut(stream, points), max_frame) == reference(stream, max_frame), (stream, points)


def test_several_frames_in_one_read() -> None:
    assert Deframer().feed(frame(MSG) + frame(GBK) + frame(MSG)) == [MSG, GBK, MSG]


def test_frame_split_between_fs_and_cr() -> None:
    deframer = Deframer()
    assert deframer.feed(VT + MSG + FS) == [MSG]
    assert deframer.feed(CR + VT + b"next") == []
    assert deframer.feed(FS + CR) == [b"next"]
    assert deframer.skipped_bytes == 0  # the late CR belongs to the end block


def test_frame_split_across_many_reads() -> None:
    deframer = Deframer()
    wire = frame(GBK)
    events = [deframer.feed(wire[i : i + 3]) for i in range(0, len(wire), 3)]
    assert [e for read in events for e in read] == [GBK]


def test_junk_before_the_start_block_is_skipped_and_counted() -> None:
    deframer = Deframer()
    assert deframer.feed(b"\r\nGET / HTTP/1.0\r\n" + frame(MSG)) == [MSG]
    assert deframer.skipped_bytes == len(b"\r\nGET / HTTP/1.0\r\n")


def test_multibyte_text_passes_through_untouched() -> None:
    assert b"\x7c" in GBK.split(b"|", 4)[3] or GBK.count(b"|") > MSG.count(b"|")  # a hidden 0x7C
    assert Deframer().feed(frame(GBK)) == [GBK]


def test_start_block_inside_a_frame_restarts_it() -> None:
    deframer = Deframer()
    assert deframer.feed(VT + b"partial" + VT + MSG + FS + CR) == [MSG]
    assert deframer.abandoned_frames == 1


def test_empty_frame_is_a_frame() -> None:
    assert Deframer().feed(VT + FS + CR) == [b""]


def test_frame_of_exactly_the_maximum_is_accepted() -> None:
    assert Deframer(10).feed(frame(b"0123456789")) == [b"0123456789"]


def test_oversize_frame_is_reported_once_then_discarded_and_the_stream_goes_on() -> None:
    deframer = Deframer(1024)
    big = MSG + b"\rOBX|1|ED|X||" + b"A" * 5000
    events = deframer.feed(VT + big[:600])
    assert events == []
    assert deframer.pending_bytes == 600
    events = deframer.feed(big[600:3000])
    assert events == [OversizeFrame(head=big[:1024], max_frame_bytes=1024)]
    assert deframer.in_frame
    assert deframer.feed(big[3000:]) == []
    assert deframer.pending_bytes == len(big)
    assert deframer.feed(FS + CR + frame(MSG)) == [MSG]
    assert not deframer.in_frame


def test_oversize_head_is_capped() -> None:
    events = Deframer(100_000).feed(VT + MSG + b"B" * 200_000)
    assert len(events) == 1 and isinstance(events[0], OversizeFrame)
    assert events[0].head == (MSG + b"B" * OVERSIZE_HEAD_BYTES)[:OVERSIZE_HEAD_BYTES]


def test_state_while_a_frame_is_open() -> None:
    deframer = Deframer()
    assert not deframer.in_frame and deframer.pending_bytes == 0
    deframer.feed(VT + b"abc")
    assert deframer.in_frame and deframer.pending_bytes == 3
    deframer.feed(FS)
    assert not deframer.in_frame


def test_frame_wraps_and_refuses_delimiters_in_the_payload() -> None:
    assert frame(MSG) == VT + MSG + FS + CR
    for bad in (b"a\x0bb", b"a\x1cb"):
        with pytest.raises(ValueError, match="cannot contain"):
            frame(bad)


def test_max_frame_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Deframer(0)
