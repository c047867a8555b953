"""MLLP gateway throughput: `dualcode serve` (SQLite, a real process) storing, de-duplicating,
routing and mapping every ADT^A04 (Chinese names, UTF-8) and answering AA only after the commit;
1 and 8 persistent connections, each a closed loop (send, wait for the ACK, send the next).

Beside it, in the same run, python-hl7's asyncio MLLP server (``hl7.mllp``) answering AA without
storing anything, under the same 8-connection load: our throughput is reported as a ratio of it (the
load generator shares the machine's cores, so the ratio is the figure to quote). Bounded: < 60 s.

    .venv/bin/python -m bench mllp_throughput
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.stats import latency_line
from mappings.identity_documents import mod11_2_check_char
from tests.e2e.harness import free_port, start_service

FS_CR = b"\x1c\r"
SECONDS_ONE, SECONDS_EIGHT, SECONDS_PEER = 5.0, 10.0, 6.0
FAMILY = ["欧阳", "司马", "王", "李", "张", "刘", "陈", "杨"]
GIVEN = ["娜娜", "建国", "秀英", "伟", "芳", "静", "磊", "敏"]


def synthetic_id_number(n: int) -> tuple[str, str]:
    """A valid, distinct ID number per message (Bincheng district, one birth day per 1,000 people),
    so every message is a new person, as in a real registration feed."""
    born = date(1950, 1, 1) + timedelta(days=n // 1000)
    body = f"371602{born:%Y%m%d}{n % 1000:03d}"
    return body + mod11_2_check_char(body), f"{born:%Y%m%d}"


def adt(run: str, n: int) -> bytes:
    family, given = FAMILY[n % 8], GIVEN[(n // 8) % 8]
    id_number, born = synthetic_id_number(n)
    text = (
        "MSH|^~\\&|HIS|H001|DUALCODE|DC|20261129101500||ADT^A04^ADT_A01|"
        f"{run}{n:08d}|P|2.5|||||CHN|UNICODE UTF-8\r"
        "EVN|A04|20261129101500\r"
        f"PID|1||{run}{n:08d}^^^H001^MR~{id_number}^^^CHN^NNCHN||{family}^{given}||{born}|F|||"
        "朝阳区建国路1号^^北京市^^100020^CHN||13812345678\r"
        "PV1|1|O|内科^^^H001||||0101^李^医生\r"
    )
    return b"\x0b" + text.encode("utf-8") + FS_CR


@dataclass(frozen=True)
class Result:
    name: str
    latencies_s: list[float]
    seconds: float
    rejected: int

    def line(self) -> str:
        rate = len(self.latencies_s) / self.seconds
        return f"{latency_line(self.name, self.latencies_s)}  {rate:8,.0f} msg/s  not-AA={self.rejected}"

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.seconds


async def closed_loop(name: str, port: int, connections: int, seconds: float, run: str) -> Result:
    latencies: list[float] = []
    rejected = 0
    deadline = time.perf_counter() + seconds

    async def client(worker: int) -> None:
        nonlocal rejected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = worker
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(adt(run, n))
                await writer.drain()
                ack = await reader.readuntil(FS_CR)
                latencies.append(time.perf_counter() - started)
                if b"MSA|AA|" not in ack:
                    rejected += 1
                n += connections
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(connections)))
    return Result(name, latencies, time.perf_counter() - started, rejected)


def peer_server(port: int) -> None:
    """python-hl7's asyncio MLLP server answering AA to everything, storing nothing."""
    import hl7.mllp

    async def handle(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                writer.writemessage(message.create_ack())
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    async def serve() -> None:
        async with await hl7.mllp.start_hl7_server(handle, "127.0.0.1", port, encoding="utf-8") as server:
            await server.serve_forever()

    asyncio.run(serve())


def start_peer() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.mllp_throughput", "--peer", str(port)])
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the python-hl7 peer did not start")


def main() -> None:
    print("== MLLP: ADT^A04 (Chinese names) stored + routed + mapped, AA after commit; SQLite; loopback ==")
    run = f"B{os.getpid() % 10000:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        service = start_service(Path(tmp), {"DUALCODE_LOG_LEVEL": "WARNING"})
        try:
            asyncio.run(closed_loop("warm-up", service.mllp_port, 8, 1.0, run + "W"))
            one = asyncio.run(
                closed_loop("dualcode serve, 1 connection", service.mllp_port, 1, SECONDS_ONE, run + "O")
            )
            eight = asyncio.run(
                closed_loop("dualcode serve, 8 connections", service.mllp_port, 8, SECONDS_EIGHT, run + "E")
            )
        finally:
            service.stop()
    process, port = start_peer()
    try:
        peer = asyncio.run(
            closed_loop("peer: python-hl7 hl7.mllp, AA only, 8 conn", port, 8, SECONDS_PEER, run)
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    for result in (one, eight, peer):
        print(result.line())
    print(f"8-connection ratio dualcode/python-hl7 {eight.rate / peer.rate:.2f} (target >= 1.5)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peer":
        peer_server(int(sys.argv[2]))
    else:
        main()
