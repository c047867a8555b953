"""The MLLP listener on a real socket, driven by real clients: python-hl7's ``mllp_send`` command,
python-hl7's ``MLLPClient``, and raw sockets (blocking ones run in a thread, as a separate client
would be). All data is synthetic."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from hl7.client import MLLPClient

from adapter.errors import ResourceNotFound
from adapter.hl7v2 import MllpServer, Peer, build_ack, frame, read_msh
from tests.mllp_client import CR, FS, VT, raw_client, unframe

MLLP_SEND = Path(sys.executable).with_name("mllp_send")

Serve = Callable[..., Awaitable[tuple[MllpServer, int]]]


def adt(
    control_id: str,
    *,
    charset: str = "",
    facility: str = "HOSP",
    name: str = "SMITH^JOHN",
    version: str = "2.5",
) -> str:
    msh18 = f"||||||{charset}" if charset else ""
    return (
        f"MSH|^~\\&|HIS|{facility}|DUALCODE|DC|20240101120000||ADT^A04^ADT_A01|{control_id}|P|{version}{msh18}\r"
        f"EVN|A04|20240101120000\rPID|1||P{control_id}^^^HOSP^MR||{name}||19800101|M\rPV1|1|O"
    )


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[MllpServer] = []

    async def start(**options: object) -> tuple[MllpServer, int]:
        options.setdefault("max_frame_bytes", 4096)
        options.setdefault("idle_timeout_s", 10.0)
        server = MllpServer(host="127.0.0.1", port=0, **options)  # type: ignore[arg-type]
        host, port = await server.start()
        assert host == "127.0.0.1" and port > 0 and server.address == (host, port)
        servers.append(server)
        return server, port

    yield start
    for server in servers:
        await server.stop()


def msa(ack: bytes, codec: str = "utf-8") -> tuple[str, str]:
    fields = next(s for s in ack.decode(codec).split("\r") if s.startswith("MSA")).split("|")
    return fields[1], fields[2]


def err(ack: bytes, codec: str = "utf-8") -> list[str]:
    return next(s for s in ack.decode(codec).split("\r") if s.startswith("ERR")).split("|")


async def all_closed(server: MllpServer) -> None:
    """The server has let go of every connection (it notices a vanished peer asynchronously)."""
    for _ in range(200):
        if server.connections == 0:
            return
        await asyncio.sleep(0.01)
    assert server.connections == 0


async def test_mllp_send_command_line_client(serve: Serve, tmp_path: Path) -> None:
    _, port = await serve()
    messages = tmp_path / "messages.hl7"
    messages.write_bytes(b"".join(frame(adt(f"CLI{i}").encode()) for i in range(3)))
    proc = await asyncio.create_subprocess_exec(
        str(MLLP_SEND), "--port", str(port), "--file", str(messages), "127.0.0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr
    acks = unframe(stdout.replace(FS + CR + b"\n", FS + CR))  # it prints each reply and a newline
    assert [msa(ack) for ack in acks] == [("AR", f"CLI{i}") for i in range(3)]
    assert err(acks[0])[3] == "200^Unsupported message type^HL70357"


async def test_python_hl7_client_on_one_persistent_connection(serve: Serve) -> None:
    _, port = await serve()

    def send_all() -> list[bytes]:
        with MLLPClient("127.0.0.1", port) as client:
            return [client.send_message(adt(f"PY{i}")) for i in range(20)]

    acks = [unframe(reply)[0] for reply in await asyncio.to_thread(send_all)]
    assert [msa(ack) for ack in acks] == [("AR", f"PY{i}") for i in range(20)]


async def test_several_frames_in_one_write(serve: Serve) -> None:
    _, port = await serve()
    wire = b"".join(frame(adt(f"M{i}").encode()) for i in range(5))
    acks = await asyncio.to_thread(raw_client, port, [wire], 5)
    assert [msa(ack)[1] for ack in acks] == [f"M{i}" for i in range(5)]


async def test_frame_split_across_writes_even_between_fs_and_cr(serve: Serve) -> None:
    _, port = await serve()
    wire = frame(adt("SPLIT").encode())
    pieces = [wire[:1], wire[1:10], wire[10:-2], wire[-2:-1], wire[-1:]]  # ... FS | CR
    acks = await asyncio.to_thread(raw_client, port, pieces, 1)
    assert [msa(ack) for ack in acks] == [("AR", "SPLIT")]


async def test_back_to_back_frames_on_a_persistent_connection(serve: Serve) -> None:
    server, port = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(50):
            writer.write(frame(adt(f"B{i}").encode()))
            await writer.drain()
            reply = await reader.readuntil(FS + CR)
            assert msa(unframe(reply)[0]) == ("AR", f"B{i}")
        assert server.connections == 1
    finally:
        writer.close()
        await writer.wait_closed()


async def test_gbk_without_msh_18_is_answered_in_gbk(serve: Serve) -> None:
    _, port = await serve(default_charset="GBK")
    message = adt("GBK1", facility="协和医院", name="劉^億", version="2.4")  # 億 hides a 0x7C byte
    acks = await asyncio.to_thread(raw_client, port, [frame(message.encode("gbk"))], 1)
    ack = acks[0]
    assert msa(ack, "gbk") == ("AR", "GBK1")
    assert err(ack, "gbk")[1] == "MSH^1^9^200&Unsupported message type&HL70357~MSH^1^9^" + (
        "DC-4001&no destination for message type ADT\\S\\A04&L"
    )  # v2.4: ERR-1 only
    assert "|协和医院|".encode("gbk") in ack
    with pytest.raises(UnicodeDecodeError):
        ack.decode("utf-8")


async def test_gbk_without_msh_18_on_a_utf8_listener_is_ae_not_silence(serve: Serve) -> None:
    _, port = await serve()
    message = adt("GBK2", name="张^三")
    acks = await asyncio.to_thread(raw_client, port, [frame(message.encode("gbk"))], 1)
    assert msa(acks[0]) == ("AE", "GBK2")
    assert err(acks[0])[2:4] == ["PID^1^5", "102^Data type error^HL70357"]


async def test_gb18030_declared_in_msh_18_is_answered_in_gb18030(serve: Serve) -> None:
    _, port = await serve()
    message = adt("GB1", charset="GB 18030-2000", facility="协和医院", name="张^三𠀀")
    acks = await asyncio.to_thread(raw_client, port, [frame(message.encode("gb18030"))], 1)
    ack = acks[0]
    assert msa(ack, "gb18030") == ("AR", "GB1")
    header = ack.decode("gb18030").split("\r")[0].split("|")
    assert header[5] == "协和医院" and header[-1] == "GB 18030-2000"


async def test_python_hl7_client_sending_gbk(serve: Serve) -> None:
    _, port = await serve(default_charset="GBK")

    def send() -> bytes:
        with MLLPClient("127.0.0.1", port, encoding="gbk") as client:
            return client.send_message(adt("PYGBK", facility="协和", name="张^三"))

    ack = unframe(await asyncio.to_thread(send))[0]
    assert msa(ack, "gbk") == ("AR", "PYGBK")


async def test_message_without_msh_is_answered_ar_with_empty_msa_2(serve: Serve) -> None:
    _, port = await serve()
    acks = await asyncio.to_thread(raw_client, port, [frame(b"PID|1||X"), frame(b"")], 2)
    assert [msa(ack) for ack in acks] == [("AR", ""), ("AR", "")]
    assert acks[0].startswith(b"MSH|^~\\&|DUALCODE|") and b"|2.5" in acks[0].split(CR)[0]


async def test_oversize_frame_is_answered_ar_and_the_connection_stays_usable(serve: Serve) -> None:
    _, port = await serve(max_frame_bytes=4096)
    big = adt("BIG") + "\rOBX|1|ED|PDF||" + "A" * 100_000
    wire = frame(big.encode()) + frame(adt("AFTER").encode())
    acks = await asyncio.to_thread(raw_client, port, [wire[:50_000], wire[50_000:]], 2)
    assert [msa(ack) for ack in acks] == [("AR", "BIG"), ("AR", "AFTER")]
    assert err(acks[0])[5].startswith("DC-4003^")
    assert err(acks[1])[5].startswith("DC-4001^")


async def test_client_dropping_mid_frame_does_not_hurt_the_next_client(serve: Serve) -> None:
    server, port = await serve()

    def drop() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(frame(adt("D0").encode()) + VT + adt("HALF").encode()[:40])
            assert b"D0" in sock.recv(65536)

    await asyncio.to_thread(drop)
    acks = await asyncio.to_thread(raw_client, port, [frame(adt("NEXT").encode())], 1)
    assert msa(acks[0]) == ("AR", "NEXT")
    await all_closed(server)


async def test_client_leaving_before_its_ack_does_not_hurt_the_listener(serve: Serve) -> None:
    server, port = await serve()

    def hit_and_run() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"".join(frame(adt(f"R{i}").encode()) for i in range(20)))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    for _ in range(5):
        await asyncio.to_thread(hit_and_run)  # closes with RST, ACKs unread
    acks = await asyncio.to_thread(raw_client, port, [frame(adt("STILL").encode())], 1)
    assert msa(acks[0]) == ("AR", "STILL")
    await all_closed(server)


async def test_handler_failure_is_ae_207_and_the_connection_goes_on(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "张三 110101199003070000"  # synthetic: stands for text quoted by a failing library

    async def flaky(data: bytes, peer: Peer) -> bytes:
        control_id = read_msh(data).control_id
        if control_id == "BOOM":
            raise RuntimeError(secret)
        if control_id == "GONE":
            raise ResourceNotFound("no such patient")
        return build_ack(read_msh(data), "AA")

    _, port = await serve(handler=flaky)
    wire = b"".join(frame(adt(c).encode()) for c in ("OK1", "BOOM", "GONE", "OK2"))
    acks = await asyncio.to_thread(raw_client, port, [wire], 4)
    assert [msa(ack) for ack in acks] == [("AA", "OK1"), ("AE", "BOOM"), ("AE", "GONE"), ("AA", "OK2")]
    assert err(acks[1])[3] == "207^Application internal error^HL70357"
    assert err(acks[2])[5].startswith("DC-3001^")
    assert "MLLP handler failed: RuntimeError" in caplog.text
    assert secret not in caplog.text and "张" not in caplog.text


async def test_handler_returning_bytes_that_would_break_framing_gets_ae(serve: Serve) -> None:
    async def broken(data: bytes, peer: Peer) -> bytes:
        return b"MSH|^~\\&|\x1c\r"

    _, port = await serve(handler=broken)
    acks = await asyncio.to_thread(raw_client, port, [frame(adt("BAD").encode())], 1)
    assert msa(acks[0]) == ("AE", "BAD")


async def test_handler_may_send_nothing(serve: Serve) -> None:
    async def silent_for_acks(data: bytes, peer: Peer) -> bytes:
        msh = read_msh(data)
        return b"" if msh.message_type == "ACK" else build_ack(msh, "AA")

    _, port = await serve(handler=silent_for_acks)
    ack_in = b"MSH|^~\\&|HIS|H|DC|DC|2024||ACK^A04^ACK|X|P|2.4\rMSA|AA|1"
    acks = await asyncio.to_thread(raw_client, port, [frame(ack_in) + frame(adt("AFTER").encode())], 1)
    assert [msa(ack) for ack in acks] == [("AA", "AFTER")]


async def test_idle_connection_is_closed_after_the_timeout(serve: Serve) -> None:
    server, port = await serve(idle_timeout_s=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(VT + b"MSH|never ends")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # closed, nothing sent
    finally:
        writer.close()
        await writer.wait_closed()
    assert server.connections == 0


async def test_stop_lets_in_flight_messages_finish_and_closes_idle_connections(serve: Serve) -> None:
    started = asyncio.Event()

    async def slow(data: bytes, peer: Peer) -> bytes:
        started.set()
        await asyncio.sleep(0.3)
        return build_ack(read_msh(data), "AA")

    server, port = await serve(handler=slow)
    busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", port)
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        busy_writer.write(frame(adt("INFLIGHT").encode()))
        await busy_writer.drain()
        await started.wait()
        await server.stop()
        assert msa(unframe(await busy_reader.read())[0]) == ("AA", "INFLIGHT")
        assert await idle_reader.read() == b""
        assert server.connections == 0
    finally:
        for writer in (busy_writer, idle_writer):
            writer.close()
            await writer.wait_closed()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_stop_gives_up_on_a_stuck_handler_after_the_grace_period(serve: Serve) -> None:
    started = asyncio.Event()

    async def stuck(data: bytes, peer: Peer) -> bytes:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    server, port = await serve(handler=stuck, stop_grace_s=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(frame(adt("STUCK").encode()))
        await writer.drain()
        await started.wait()
        began = time.perf_counter()
        await server.stop()
        assert time.perf_counter() - began < 2
        assert await reader.read() == b""  # no ACK: the message was not handled
    finally:
        writer.close()
        await writer.wait_closed()


async def test_many_connections_each_get_their_acks_in_order(serve: Serve) -> None:
    _, port = await serve()

    async def client(n: int) -> list[str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"".join(frame(adt(f"C{n}-{i}").encode()) for i in range(100)))
            await writer.drain()
            data = b""
            while data.count(FS + CR) < 100:
                data += await reader.read(65536)
            return [msa(ack)[1] for ack in unframe(data)]
        finally:
            writer.close()
            await writer.wait_closed()

    results = await asyncio.gather(*(client(n) for n in range(8)))
    assert results == [[f"C{n}-{i}" for i in range(100)] for n in range(8)]


async def test_start_twice_is_refused_and_address_needs_a_start(serve: Serve) -> None:
    server, _ = await serve()
    with pytest.raises(RuntimeError, match="already started"):
        await server.start()
    with pytest.raises(RuntimeError, match="not started"):
        _ = MllpServer(port=0).address
