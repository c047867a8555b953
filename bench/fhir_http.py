"""FHIR API over HTTP: `dualcode serve` (SQLite, real process) under 16 concurrent clients, beside a
plain FastAPI hello-world measured the same way in the same run (the ratio is the figure to quote:
the load generator shares the 2 cores). Reads and searches by identifier only (no card platform).

    python -m bench fhir_http                        # 1 worker, SQLite, then PostgreSQL if it answers
    python -m bench.fhir_http --workers 1,2          # A/B: one process, then two workers, same run
    python -m bench.fhir_http --baseline /tmp/old    # A/B: another source tree's server vs this one

Besides req/s and latency it prints the server's CPU time per request (user+system of the `dualcode
serve` process and its workers over the run, from /proc): steadier than req/s on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import LoadResult, closed_loop
from tests.e2e.harness import free_port, start_service

SYSTEM = "urn:oid:2.16.156.10011.1.3"
PATIENTS = 1000
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Run:
    result: LoadResult
    cpu_s: float | None  # server CPU seconds over the run (all its processes)

    def line(self, peer: LoadResult) -> str:
        cpu = f"  server CPU {self.cpu_s / self.result.requests * 1e6:6.0f} µs/req" if self.cpu_s else ""
        ratio = self.result.per_second / peer.per_second
        return f"{self.result.line()}{cpu}  ratio to peer {ratio:.3f}"


def seed(base: str, token: str, patients: int = PATIENTS) -> list[str]:
    ids = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(headers=headers, timeout=30) as client:
        for n in range(patients):
            body = {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": f"H{n:017d}"}]}
            answer = client.post(f"{base}/fhir/Patient", json=body)
            answer.raise_for_status()
            ids.append(answer.json()["id"])
    return ids


def hello_peer(workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.hello_app", str(port), str(workers)])
    url = f"http://127.0.0.1:{port}/hello"
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return process, url


def fresh_postgres_database() -> str | None:
    """A new empty database on the local PostgreSQL, or None when it does not answer."""
    try:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q",
             "-c", "DROP DATABASE IF EXISTS dualcode_bench", "-c", "CREATE DATABASE dualcode_bench"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return "postgresql+asyncpg://postgres@127.0.0.1:5432/dualcode_bench"


def tree_cpu_s(pid: int) -> float | None:
    """User+system CPU seconds of a process and its live descendants (Linux /proc), or None."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            if current == pid:
                return None
    return total / TICKS


def loaded(
    pid: int, name: str, next_url: Callable[[int], str], *, headers: dict[str, str], seconds: float
) -> Run:
    before = tree_cpu_s(pid)
    result = asyncio.run(closed_loop(name, next_url, headers=headers, seconds=seconds))
    after = tree_cpu_s(pid)
    return Run(result, after - before if before is not None and after is not None else None)


def measure(label: str, env: dict[str, str], *, seconds: float, patients: int) -> list[Run]:
    with tempfile.TemporaryDirectory() as tmp:
        service = start_service(Path(tmp), env)
        try:
            if int(env.get("DUALCODE_HTTP_WORKERS", "1")) > 1:
                service.wait_for_output("dualcode is listening")  # every worker serving
            token = service.token("admin", name="bench")
            ids = seed(service.base_url, token, patients)
            auth = {"Authorization": f"Bearer {token}"}
            base, pid = service.base_url, service.process.pid
            read = loaded(
                pid, f"{label}: GET /fhir/Patient/{{id}}",
                lambda n: f"{base}/fhir/Patient/{ids[n % patients]}", headers=auth, seconds=seconds,
            )  # fmt: skip
            search = loaded(
                pid, f"{label}: GET /fhir/Patient?identifier=",
                lambda n: f"{base}/fhir/Patient?identifier={SYSTEM}|H{n % patients:017d}",
                headers=auth, seconds=seconds,
            )  # fmt: skip
        finally:
            service.stop()
    return [read, search]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fhir_http")
    parser.add_argument("--workers", default="1", help="comma-separated worker counts to run in turn")
    parser.add_argument("--baseline", help="source tree of the server to compare with (run first)")
    parser.add_argument("--seconds", type=float, default=8.0, help="per load run")
    parser.add_argument("--patients", type=int, default=PATIENTS)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv if argv is not None else [])
    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"== FHIR API over HTTP: 16 concurrent clients, {args.seconds:g} s each, {args.patients} patients, "
        f"loopback, workers {args.workers} =="
    )
    backends = ["sqlite"]
    if not args.no_postgres:
        if fresh_postgres_database():
            backends.append("postgres")
        else:
            print("(PostgreSQL on 127.0.0.1:5432 does not answer: PostgreSQL skipped)")
    plans: list[tuple[str, dict[str, str]]] = []
    for backend in backends:
        if args.baseline:
            plans.append((f"{backend} baseline", {"PYTHONPATH": str(Path(args.baseline).resolve())}))
        plans += [(f"{backend} w={n}", {"DUALCODE_HTTP_WORKERS": str(n)}) for n in counts]
    runs: list[Run] = []
    for label, env in plans:
        if label.startswith("postgres"):
            env = {**env, "DUALCODE_DATABASE_URL": fresh_postgres_database() or ""}
        runs += measure(label, env, seconds=args.seconds, patients=args.patients)
    process, url = hello_peer()
    try:
        hello = asyncio.run(closed_loop("peer: FastAPI hello-world", lambda n: url, seconds=args.seconds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    for run in runs:
        print(run.line(hello))
    print(f"{hello.line()}  ratio to peer 1.000")


if __name__ == "__main__":
    main(sys.argv[1:])
