"""MLLP gateway throughput: `dualcode serve` (a real process) storing, de-duplicating, routing and
mapping every ADT^A04 (Chinese names, UTF-8, a new person each) and answering AA only after the
commit; 1 and 8 persistent connections, each a closed loop (send, wait for the ACK, send the next).
On SQLite, and on PostgreSQL when it answers on 127.0.0.1:5432 (a fresh database per service).

Beside it, in the same run, python-hl7's asyncio MLLP server (``hl7.mllp``) answering AA without
storing anything, under the same 8-connection load: our throughput is reported as a ratio of it (the
load generator shares the machine's cores, so the ratio is the figure to quote). The 8-connection
runs are repeated ``--rounds`` times, interleaved (ours, baseline, peer), and medians reported.

Enhanced mode (MSH-15 AL, MSH-16 AL) is measured on its own line, 8 connections, per round: each
connection is a closed loop on the commit ACK (CA), sent once the raw message is committed; the
effects (mapping, patient index, resources) run behind it in the connection's effects queue (at
most 64 waiting, then the connection stops reading: backpressure), and their application ACKs (AA)
come back on the same connection. Two figures: the CA rate and latency, and the effects rate
(messages / time until the last AA of the run): what a sustained feed gets. The original-mode
figure (AA after the effects are committed) is the headline.

Each 8-connection run also gives the CPU per message of the server's processes (utime + stime from
``/proc``, the process and its children), of the load generator (this process), and on PostgreSQL of
every ``postgres`` process on the machine (other users of that server count too): on a shared
machine the rates swing, these say where the cores go.

``--workers 1,2`` runs each backend with that many service processes (``DUALCODE_HTTP_WORKERS``;
the MLLP port is shared with SO_REUSEPORT and the kernel spreads the 8 connections over them).

``--baseline DIR`` also runs the same load against another copy of the code in the same run, an A/B
(for example ``git archive HEAD | tar -x -C /tmp/base``; it runs with PYTHONPATH=DIR).

    .venv/bin/python -m bench mllp_throughput
    .venv/bin/python -m bench.mllp_throughput --rounds 3 [--baseline /tmp/base] [--backends sqlite,postgres]

Bounded: about 40 s per round with PostgreSQL and a baseline, plus start-up.

``--cpu`` measures instead the CPU per message in process (``time.process_time``, the commit thread
included): the gateway on a SQLite file, 8 concurrent tasks, batches of 200 new-person A04s, median and
minimum of 8 batches. On a shared machine this is steadier than the rates; run it for both trees in
turns (for the copy: ``cp bench/mllp_throughput.py /tmp/cpu.py; cd /tmp/base;
PYTHONPATH=/tmp/base /work/main/.venv/bin/python /tmp/cpu.py --cpu``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.stats import latency_line, percentile
from mappings.identity_documents import mod11_2_check_char
from tests.e2e.harness import RunningService, free_port, start_service

FS_CR = b"\x1c\r"
SECONDS_ONE, SECONDS_EIGHT, SECONDS_PEER = 4.0, 8.0, 6.0
FAMILY = ["欧阳", "司马", "王", "李", "张", "刘", "陈", "杨"]
GIVEN = ["娜娜", "建国", "秀英", "伟", "芳", "静", "磊", "敏"]
POSTGRES_URL = os.environ.get(
    "DUALCODE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def synthetic_id_number(n: int) -> tuple[str, str]:
    """A valid, distinct ID number per message (Bincheng district, one birth day per 1,000 people),
    so every message is a new person, as in a real registration feed."""
    born = date(1950, 1, 1) + timedelta(days=n // 1000)
    body = f"371602{born:%Y%m%d}{n % 1000:03d}"
    return body + mod11_2_check_char(body), f"{born:%Y%m%d}"


def adt(run: str, n: int, *, enhanced: bool = False) -> bytes:
    """``enhanced``: MSH-15 AL (a CA once stored), MSH-16 AL (the application ACK after the effects)."""
    family, given = FAMILY[n % 8], GIVEN[(n // 8) % 8]
    id_number, born = synthetic_id_number(n)
    modes = "AL|AL" if enhanced else "|"
    text = (
        "MSH|^~\\&|HIS|H001|DUALCODE|DC|20261129101500||ADT^A04^ADT_A01|"
        f"{run}{n:08d}|P|2.5|||{modes}|CHN|UNICODE UTF-8\r"
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

    expected: str = "AA"
    applied_seconds: float | None = None  # enhanced mode: from the start until the last AA
    server_cpu_ms: float | None = None  # the server's processes: CPU (utime + stime) per message
    client_cpu_ms: float | None = None  # this load generator: CPU per message
    database_cpu_ms: float | None = None  # PostgreSQL's processes (all of them): CPU per message

    def line(self) -> str:
        applied = "" if self.applied_rate is None else f"  effects {self.applied_rate:8,.0f} msg/s"
        cpu = ""
        if self.server_cpu_ms is not None and self.client_cpu_ms is not None:
            cpu = f"  CPU/msg server {self.server_cpu_ms:.2f} ms, load generator {self.client_cpu_ms:.2f} ms"
            if self.database_cpu_ms is not None:
                cpu += f", postgres {self.database_cpu_ms:.2f} ms"
        return (
            f"{latency_line(self.name, self.latencies_s)}  {self.rate:8,.0f} msg/s  "
            f"not-{self.expected}={self.rejected}{applied}{cpu}"
        )

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.seconds

    @property
    def applied_rate(self) -> float | None:
        return None if self.applied_seconds is None else len(self.latencies_s) / self.applied_seconds

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_s, 0.99) * 1000


RUN_BLOCK = 500_000  # message numbers per run: every message of the whole run is a new person
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu_s(pid: int) -> float:
    """utime + stime of a process and its live descendants, in seconds (Linux /proc; 0 elsewhere).
    Threads are included; processes that ended meanwhile are not."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def postgres_cpu() -> dict[int, float]:
    """utime + stime (seconds) of each live PostgreSQL server process on this machine (Linux /proc):
    other users of the server count too, so read it on a quiet machine only."""
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            fields = text.rpartition(")")[2].split()
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    return found


def _postgres_spent(before: dict[int, float]) -> float:
    """CPU the PostgreSQL processes spent since ``before`` (a process that ended meanwhile is lost;
    one that started counts whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())


def measured(
    run: Callable[[], Coroutine[Any, Any, Result]], server_pid: int, *, database: bool = False
) -> Result:
    """``run()`` (a closed loop) with the CPU per message of the server's process tree and of this
    process (the load generator); with ``database``, of the PostgreSQL processes too."""
    server, client = tree_cpu_s(server_pid), time.process_time()
    postgres = postgres_cpu() if database else {}
    result = asyncio.run(run())
    count = max(1, len(result.latencies_s))
    return replace(
        result,
        server_cpu_ms=(tree_cpu_s(server_pid) - server) * 1000 / count,
        client_cpu_ms=(time.process_time() - client) * 1000 / count,
        database_cpu_ms=_postgres_spent(postgres) * 1000 / count if database else None,
    )


async def closed_loop(
    name: str,
    port: int,
    connections: int,
    seconds: float,
    run: str,
    *,
    block: int = 0,
    enhanced: bool = False,
) -> Result:
    """``block``: which RUN_BLOCK of message numbers (ID numbers) this run uses. ``enhanced``: the
    loop runs on the CA (see the module docstring); the application ACKs are counted as they come,
    and after the deadline each connection waits for the rest."""
    expected = b"MSA|CA|" if enhanced else b"MSA|AA|"
    latencies: list[float] = []
    rejected = 0
    deadline = time.perf_counter() + seconds
    applied_at: list[float] = []
    committed_at: list[float] = []  # when each connection's closed loop ended (its last CA or AA)

    async def client(worker: int) -> None:
        nonlocal rejected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = block * RUN_BLOCK + worker
        sent = applied = 0

        async def answer() -> bytes:  # the next commit ACK (enhanced) or ACK; application ACKs counted
            nonlocal applied, rejected
            while True:
                ack = await reader.readuntil(FS_CR)
                if not enhanced or b"MSA|C" in ack:
                    return ack
                applied += 1
                rejected += b"MSA|AA|" not in ack

        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(adt(run, n, enhanced=enhanced))
                await writer.drain()
                ack = await answer()
                latencies.append(time.perf_counter() - started)
                if expected not in ack:
                    rejected += 1
                n += connections
                sent += 1
            committed_at.append(time.perf_counter())
            if enhanced:
                async with asyncio.timeout(120):
                    while applied < sent:  # only application ACKs are left to come
                        ack = await reader.readuntil(FS_CR)
                        applied += 1
                        rejected += b"MSA|AA|" not in ack
                applied_at.append(time.perf_counter())
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(connections)))
    applied_s = max(applied_at) - started if enhanced else None
    return Result(
        name, latencies, max(committed_at) - started, rejected, "CA" if enhanced else "AA", applied_s
    )


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


@contextmanager
def running_peer() -> Iterator[tuple[int, int]]:
    """The python-hl7 peer's port and process id."""
    with serving_process("bench.mllp_throughput", "--peer") as running:
        yield running


@contextmanager
def serving_process(module: str, flag: str) -> Iterator[tuple[int, int]]:
    """``python -m module flag PORT`` on a free port, once it accepts connections: (port, pid)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, flag, str(port)])
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{module} {flag} did not start")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _postgres_admin(statement: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """An empty database of its own; the service migrates it with its own code (a baseline too)."""
    from sqlalchemy.engine import make_url

    name = f"dualcode_bench_mllp_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def running_service(backend: str, source: str | None, workers: int = 1) -> Iterator[RunningService]:
    """`dualcode serve` on a fresh database of ``backend``, from ``source`` (None: this tree), with
    ``workers`` service processes."""
    env = {"DUALCODE_LOG_LEVEL": "WARNING", "DUALCODE_HTTP_WORKERS": str(workers)}
    if source is not None:
        env["PYTHONPATH"] = source
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if backend == "postgres":
            env["DUALCODE_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        service = start_service(tmp, env)
        stack.callback(service.stop)
        yield service


@dataclass(frozen=True)
class Target:
    label: str  # "sqlite", "postgres", "sqlite baseline" ...
    port: int
    pid: int  # the service's first process (its workers are its children)


async def cpu_per_message(batches: int = 8, per_batch: int = 200) -> list[float]:
    """ms of CPU per new-person A04, per batch, in process (see the module docstring)."""
    from adapter.hl7v2.bindings import default_bindings
    from adapter.hl7v2.gateway import Gateway
    from adapter.hl7v2.handler import Peer
    from adapter.hl7v2.senders import SenderTable
    from adapter.security.audit import Auditor
    from adapter.storage import SqlStorage, Vault, migrate

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'dualcode.sqlite'}"
        await migrate(url)
        storage = SqlStorage(url, Vault.generate())
        gateway = Gateway(storage, default_bindings(), senders=SenderTable(), auditor=Auditor())
        peer = Peer("127.0.0.1", 1)

        async def worker(first: int, count: int) -> None:
            for n in range(first, first + 8 * count, 8):
                assert b"MSA|AA|" in await gateway(adt("C", n)[1:-2], peer)

        async def batch(block: int, count: int) -> float:
            started = time.process_time()
            await asyncio.gather(*(worker(block * RUN_BLOCK + w, count // 8) for w in range(8)))
            return (time.process_time() - started) * 1000 / count

        try:
            await batch(0, 160)  # warm-up
            return [await batch(1 + b, per_batch) for b in range(batches)]
        finally:
            await storage.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.mllp_throughput")
    parser.add_argument("--cpu", action="store_true", help="CPU per message in process, SQLite")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", help="another copy of the code to run under the same load (A/B)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", default="1", help="service processes to run each backend with: 1,2")
    args = parser.parse_args([] if argv is None else argv)
    if args.cpu:
        cpu = asyncio.run(cpu_per_message())
        print(
            "== MLLP gateway in process, SQLite file, 8 tasks, new-person ADT^A04, AA after commit: CPU "
            f"per message (process_time), 8 batches of 200: median {statistics.median(cpu):.2f} ms, "
            f"min {min(cpu):.2f} ms =="
        )
        return
    backends = [b for b in args.backends.split(",") if b != "postgres" or postgres_answers()]
    worker_counts = [int(w) for w in args.workers.split(",")]
    sources: list[tuple[str, str | None]] = [("", None)]
    if args.baseline:
        sources.append((" baseline", str(Path(args.baseline).resolve())))
    print(
        "== MLLP: ADT^A04 (Chinese names) stored + routed + mapped, AA after commit; "
        f"{' + '.join(backends)}; loopback; {args.rounds} round(s) =="
    )
    run = f"B{os.getpid() % 10000:04d}"
    with ExitStack() as stack:
        targets: list[Target] = []
        for backend in backends:
            for workers in worker_counts:
                for suffix, source in sources:
                    service = stack.enter_context(running_service(backend, source, workers))
                    label = backend + suffix + ("" if workers == 1 else f", {workers} workers")
                    targets.append(Target(label, service.mllp_port, service.process.pid))
        peer_port, peer_pid = stack.enter_context(running_peer())
        singles: list[Result] = []
        for target in targets:
            # Each service has a database of its own: blocks 0 (warm-up), 1 (one connection), 2+ (rounds).
            asyncio.run(closed_loop("warm-up", target.port, 8, 1.0, f"{run}W{len(singles)}", block=0))
            singles.append(
                asyncio.run(
                    closed_loop(
                        f"{target.label}, 1 connection",
                        target.port,
                        1,
                        SECONDS_ONE,
                        f"{run}O{len(singles)}",
                        block=1,
                    )
                )
            )
        rounds: dict[str, list[Result]] = {t.label: [] for t in targets}
        enhanced: dict[str, list[Result]] = {t.label: [] for t in targets}
        rounds["peer"] = []
        for r in range(args.rounds):
            for i, target in enumerate(targets):
                for mode, results, tag, block in (
                    (False, rounds, "E", 2 + r),
                    (True, enhanced, "C", 2 + args.rounds + r),
                ):
                    name = f"{target.label}, {'enhanced, CA, 8 conn' if mode else '8 connections'}"
                    loop = functools.partial(
                        closed_loop,
                        name,
                        target.port,
                        8,
                        SECONDS_EIGHT,
                        f"{run}{r}{tag}{i}",
                        block=block,
                        enhanced=mode,
                    )
                    results[target.label].append(
                        measured(loop, target.pid, database=target.label.startswith("postgres"))
                    )
            peer = functools.partial(
                closed_loop, "peer: python-hl7 hl7.mllp, AA only, 8 conn", peer_port, 8, SECONDS_PEER, run
            )
            rounds["peer"].append(measured(peer, peer_pid))
    for result in singles:
        print(result.line())
    for results in (*rounds.values(), *enhanced.values()):
        for result in results:
            print(result.line())
    peer_rates = [p.rate for p in rounds["peer"]]
    print(f"medians over {args.rounds} round(s), 8 connections:")
    print(
        f"  {'peer (python-hl7, AA only)':<28} {statistics.median(peer_rates):8,.0f} msg/s  "
        f"{_cpu(rounds['peer'])}"
    )
    for target in targets:
        results = rounds[target.label]
        ratios = [res.rate / peer for res, peer in zip(results, peer_rates, strict=True)]
        print(
            f"  {target.label:<28} {statistics.median(r.rate for r in results):8,.0f} msg/s  "
            f"p50 {statistics.median(percentile(r.latencies_s, 0.5) * 1000 for r in results):7.1f} ms  "
            f"p99 {statistics.median(r.p99_ms for r in results):7.1f} ms  "
            f"ratio to peer {statistics.median(ratios):.3f} (target >= 1.5; 2,000 msg/s, p99 < 50 ms)  "
            f"{_cpu(results)}"
        )
    print(
        "enhanced mode (MSH-15 AL, MSH-16 AL), medians: the CA once the raw message is committed; the "
        "effects run behind it in the connection's queue; effects = messages / time to the last AA"
    )
    for target in targets:
        results = enhanced[target.label]
        print(
            f"  {target.label + ', CA':<28} {statistics.median(r.rate for r in results):8,.0f} msg/s  "
            f"p50 {statistics.median(percentile(r.latencies_s, 0.5) * 1000 for r in results):7.1f} ms  "
            f"p99 {statistics.median(r.p99_ms for r in results):7.1f} ms (CA latency)  "
            f"effects {statistics.median(r.applied_rate or 0.0 for r in results):8,.0f} msg/s"
        )


def _cpu(results: list[Result]) -> str:
    server = [r.server_cpu_ms for r in results if r.server_cpu_ms is not None]
    client = [r.client_cpu_ms for r in results if r.client_cpu_ms is not None]
    database = [r.database_cpu_ms for r in results if r.database_cpu_ms is not None]
    if not server or not client:
        return ""
    postgres = f", postgres {statistics.median(database):.2f} ms" if database else ""
    return (
        f"CPU/msg: server {statistics.median(server):.2f} ms, "
        f"load generator {statistics.median(client):.2f} ms{postgres}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peer":
        peer_server(int(sys.argv[2]))
    else:
        main(sys.argv[1:])
