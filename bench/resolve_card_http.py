"""`POST /fhir/Patient/$resolve-card` over HTTP for bench.resolve_card: `dualcode serve` on an already
loaded database and `dualcode sandbox` (same seed and size, so the same people) as separate
processes, 16 concurrent clients posting EHC static codes of known people. Loopback only.

Each run: every code scanned once (first visit: the hospital's patient number is created), then,
when wrk is installed, a 5 s wrk load that is not reported (with several worker processes each one
verifies a static code once before its cache answers: this lets every worker see every code, as a
day of scans would), the measured wrk load, and the measured aiohttp load (bench.load's clients,
which cost the shared cores about as much per request as the service: both are printed)."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from adapter.app import create_app
from adapter.settings import Settings
from bench import wrk
from bench.fhir_http import hello_peer
from bench.load import LoadResult
from tests.e2e.harness import RunningSandbox, free_port, sandbox_env, start_service

CLIENTS = 16
SECONDS = 10.0
CODES = 1_000  # people scanned in the loop (each resolved once before, so all are known)
HOSPITAL = "H0000"


def start_sandbox(size: int, log: Path, *, timeout_s: float = 900.0) -> RunningSandbox:
    """The SIMULATOR with `size` people (a million take minutes to generate)."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "dualcode"),
        "sandbox",
        "--port",
        str(port),
        "--his-mllp-port",
        "-1",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "--people", str(size)], stdout=out, stderr=subprocess.STDOUT)
    sandbox = RunningSandbox(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{sandbox.base_url}/sandbox/people", params={"limit": 1}, timeout=2).raise_for_status()
            return sandbox
        except httpx.HTTPError:
            time.sleep(0.5)
    sandbox.stop()
    raise RuntimeError(f"the sandbox did not start: {log.read_text()[-2000:]}")


def body(code: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "code", "valueString": code},
            {"name": "kind", "valueCode": "ehc"},
            {"name": "organization", "valueString": HOSPITAL},
        ],
    }


async def closed_loop_post(name: str, url: str, bodies: Sequence[dict[str, Any]], token: str) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    deadline = time.perf_counter() + SECONDS
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(n: int) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(url, json=bodies[n % len(bodies)]) as response:
                    await response.read()
                    errors += response.status != 200
                latencies.append(time.perf_counter() - started)
                n += CLIENTS

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return LoadResult(name, len(latencies), errors, elapsed, latencies)


# (label, settings): the static-code cache on (the default), then off (every scan asks the platform
# SIMULATOR, as a province that wants a usage record per step would configure it); and with two
# worker processes when asked.
VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("static-code cache on", {}),
    ("static-code cache off", {"DUALCODE_CARDS_STATIC_CODE_TTL_S": "0"}),
)


def measure_http(
    data_dir: Path,
    db_env: dict[str, str],
    people: Sequence[dict[str, Any]],
    size: int,
    *,
    workers: Sequence[int] = (1,),
    asgi: bool = False,
) -> list[str]:
    """The HTTP runs; with ``asgi`` the in-process CPU per scan instead (``measure_asgi``)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        sandbox = start_sandbox(size, Path(tmp) / "sandbox.log")
        lines = [f"  sandbox with {size:,} people started in {time.perf_counter() - started:.0f} s"]
        try:
            codes = [sandbox.issue("ehc-static", str(p["id_number"])) for p in people[:CODES]]
            bodies = [body(code) for code in codes]
            if asgi:
                env = {**db_env, **sandbox_env(sandbox), "DUALCODE_CARDS_HOSPITAL_CODE": HOSPITAL}
                return [*lines, measure_asgi(env, bodies, f"resolve-card in process @ {size:,}")]
            for count in workers:
                for label, settings in VARIANTS:
                    env = {
                        **db_env,
                        **sandbox_env(sandbox),
                        "DUALCODE_CARDS_HOSPITAL_CODE": HOSPITAL,
                        "DUALCODE_HTTP_WORKERS": str(count),
                        **settings,
                    }
                    name = f"resolve-card, {CLIENTS} clients @ {size:,}, {count} proc, {label}"
                    lines += _one_run(Path(tmp), env, bodies, name)
                if wrk.available():
                    lines.append(_hello_peer(count))
        finally:
            sandbox.stop()
    return lines


def measure_asgi(env: dict[str, str], bodies: Sequence[dict[str, Any]], name: str, rounds: int = 4) -> str:
    """CPU per scan through the whole app in this process: raw ASGI calls (no sockets, no server,
    no load generator), CLIENTS concurrent tasks, ``rounds`` rounds of 2,000 scans after every code
    was scanned twice; the median round. The steadiest figure for an A/B on a busy machine."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("DUALCODE_")}
    for key in saved:
        del os.environ[key]
    os.environ.update({**env, "DUALCODE_MLLP_ENABLED": "false"})
    try:
        rounds_us = asyncio.run(_asgi_rounds([orjson.dumps(b) for b in bodies], rounds))
    finally:
        for key in [k for k in os.environ if k.startswith("DUALCODE_")]:
            del os.environ[key]
        os.environ.update(saved)
    shown = ", ".join(f"{us:,.0f}" for us in rounds_us)
    return f"{name:<48} CPU {statistics.median(rounds_us):,.0f} µs/scan (median; rounds {shown})"


async def _asgi_rounds(raw: Sequence[bytes], rounds: int) -> list[float]:
    app = create_app(Settings())  # from the environment measure_asgi set
    async with app.router.lifespan_context(app):
        token = app.state.services.tokens.issue("bench-cards", scopes=["system/Patient.r"]).token
        headers = [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/fhir+json"),
        ]

        async def scan(content: bytes) -> None:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/fhir/Patient/$resolve-card",
                "raw_path": b"/fhir/Patient/$resolve-card",
                "root_path": "",
                "query_string": b"",
                "server": ("127.0.0.1", 8000),
                "client": ("127.0.0.1", 50000),
                "headers": [*headers, (b"content-length", str(len(content)).encode())],
            }
            messages = [{"type": "http.request", "body": content, "more_body": False}]
            statuses: list[int] = []

            async def receive() -> dict[str, Any]:
                return messages.pop() if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            await app(scope, receive, send)
            if statuses != [200]:
                raise RuntimeError(f"a scan was answered {statuses}")

        for content in [*raw, *raw]:  # first visits (numbers, coverage), then every code known
            await scan(content)
        results = []
        for _ in range(rounds):
            queue = list(range(2_000))

            async def client(queue: list[int]) -> None:
                while queue:
                    await scan(raw[queue.pop() % len(raw)])

            started = time.process_time()
            await asyncio.gather(*(client(queue) for _ in range(CLIENTS)))
            results.append((time.process_time() - started) / 2_000 * 1e6)
        return results


def _hello_peer(workers: int) -> str:
    """For scale, in the same run: a plain FastAPI hello-world under uvicorn, the same load (wrk)."""
    process, url = hello_peer(workers)
    try:
        return wrk.get_load(f"peer: FastAPI hello-world, {workers} proc", url, seconds=SECONDS).line()
    finally:
        process.terminate()
        process.wait(timeout=10)


def service_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the service process and its worker processes have used so far:
    the figure a busy shared machine does not distort the way it distorts requests per second."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _cpu_per_request(pid: int, before_s: float, requests: int) -> str:
    used = service_cpu_s(pid) - before_s
    return f"service CPU {used / max(requests, 1) * 1e6:,.0f} µs/request"


def _one_run(tmp: Path, env: dict[str, str], bodies: Sequence[dict[str, Any]], name: str) -> list[str]:
    lines: list[str] = []
    service = start_service(tmp, env)
    try:
        token = service.token("his", name="bench-cards")
        url = f"{service.base_url}/fhir/Patient/$resolve-card"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            warm = [client.post(url, json=b).status_code for b in bodies]  # first visit: local numbers
        if warm.count(200) != len(warm):
            lines.append(f"  warm-up: {len(warm) - warm.count(200)} of {len(warm)} scans failed")
        if wrk.available():
            raw = [orjson.dumps(b) for b in bodies]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
            wrk.post_load(name, url, raw, headers=headers, connections=CLIENTS, seconds=5)  # warm-up
            cpu_before = service_cpu_s(service.process.pid)
            result = wrk.post_load(name, url, raw, headers=headers, connections=CLIENTS, seconds=SECONDS)
            cpu = _cpu_per_request(service.process.pid, cpu_before, result.requests)
            lines.append(f"{result.line()}  {cpu}")
        cpu_before = service_cpu_s(service.process.pid)
        answered = asyncio.run(closed_loop_post(name, url, bodies, token))
        cpu = _cpu_per_request(service.process.pid, cpu_before, answered.requests)
        lines.append(f"{answered.line()}  (aiohttp)  {cpu}")
    finally:
        service.stop()
    return lines
