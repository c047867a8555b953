"""Sampling point registrations over HTTP: `dualcode serve` and the card-platform SIMULATOR as real
processes on loopback, 16 concurrent clients scanning people into pooled tubes of 20, for a bounded
time; then the time to ingest one offline batch. SQLite, and PostgreSQL when it answers.

python -m bench.sampling [--seconds 20] [--clients 16] [--batch-lines 10000] [--people 30000]

Every registration takes the real path: platform verify (EHC static code, HTTP to the simulator),
patient index resolve, local number, coverage check (NHSA 1101 on a person's first scan), bind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench.fhir_http import fresh_postgres_database
from bench.stats import latency_line
from tests.e2e.harness import RunningSandbox, sandbox_env, start_sandbox, start_service

POOL = 20
START = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)


def static_codes(sandbox: RunningSandbox, count: int) -> list[str]:
    """EHC static codes (``<ehc_id>:1``, reusable) of ``count`` new distinct synthetic people."""
    answer = httpx.post(f"{sandbox.base_url}/sandbox/people", json={"count": count}, timeout=600)
    answer.raise_for_status()
    people: list[dict[str, Any]] = answer.json()["people"]
    return [f"{person['ehc_id']}:1" for person in people]


async def load(
    base: str, token: str, codes: list[str], *, clients: int, seconds: float, tag: str
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    per_client = len(codes) // clients
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients), headers=headers
    ) as session:

        async def client(k: int) -> None:
            mine = codes[k * per_client : (k + 1) * per_client]
            for n, code in enumerate(mine):
                if time.perf_counter() >= deadline:
                    return
                body = {
                    "code": code,
                    "tube": f"B{tag}{k:02d}T{n // POOL:05d}",
                    "point": "BENCH01",
                    "pool_size": POOL,
                }
                started = time.perf_counter()
                async with session.post(f"{base}/sampling/registrations", json=body) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "statuses": statuses, "seconds": elapsed}


def batch_body(codes: list[str], tag: str) -> bytes:
    lines = [
        {
            "client_ref": f"{tag}-{n}",
            "scanned_at": (START + timedelta(seconds=n / 10)).isoformat(),
            "code": code,
            "tube": f"Q{tag}T{n // POOL:06d}",
            "point": "BENCH02",
            "pool_size": POOL,
        }
        for n, code in enumerate(codes)
    ]
    return ("\n".join(json.dumps(line) for line in lines) + "\n").encode()


def measure(
    backend: str, env: dict[str, str], sandbox: RunningSandbox, codes: list[str], args: argparse.Namespace
) -> None:
    load_codes, batch_codes = codes[: -args.batch_lines], codes[-args.batch_lines :]
    body = batch_body(batch_codes, backend)
    env = {
        **env,
        **sandbox_env(sandbox),
        "DUALCODE_MAX_BODY_BYTES": str(len(body) + 1024),
        "DUALCODE_MLLP_ENABLED": "false",
        "DUALCODE_CARDS_HOSPITAL_CODE": "H0001",  # NHSA 1101 (coverage) needs an institution code
    }
    with tempfile.TemporaryDirectory() as tmp:
        service = start_service(Path(tmp), env)
        try:
            token = service.token("sampling", name="bench-sampling")
            run = asyncio.run(
                load(
                    service.base_url,
                    token,
                    load_codes,
                    clients=args.clients,
                    seconds=args.seconds,
                    tag=backend[:2],
                )
            )
            created = run["statuses"].get(201, 0)
            name = f"{backend}: POST /sampling/registrations ({args.clients} clients)"
            rate = created / run["seconds"]
            print(f"{latency_line(name, run['latencies'])}  {rate:7,.1f} registrations/s  {run['statuses']}")
            started = time.perf_counter()
            answer = httpx.post(
                f"{service.base_url}/sampling/registrations:batch",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
                timeout=3600,
            )
            took = time.perf_counter() - started
            summary = answer.json() if answer.status_code == 200 else {"error": answer.text[:300]}
            counts = {k: summary.get(k) for k in ("created", "existing", "rejected", "error") if k in summary}
            size = f"{args.batch_lines:,} lines, {len(body) / 1e6:.1f} MB"
            speed = f"{took:.1f} s = {args.batch_lines / took:,.0f} lines/s"
            print(f"{backend}: offline batch ({size}) in {speed}  {counts}")
        finally:
            service.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sampling")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load phase")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch-lines", type=int, default=10_000, help="offline batch size (issue: 100000)")
    parser.add_argument("--people", type=int, default=30_000, help="synthetic people in the simulator")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args([] if argv is None else argv)  # `python -m bench` calls main()
    print(f"== sampling: {args.clients} clients, {args.seconds:.0f} s, tubes of {POOL}, loopback ==")
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(
            Path(tmp) / "sandbox.log", "--people", str(args.people), "--his-mllp-port", "-1"
        )
        try:
            codes = static_codes(sandbox, min(args.people, 10_000) if args.people <= 10_000 else args.people)
            halves = [codes[: len(codes) // 2], codes[len(codes) // 2 :]]
            measure("sqlite", {}, sandbox, halves[0], args)
            postgres = None if args.sqlite_only else fresh_postgres_database()
            if postgres:
                measure("postgres", {"DUALCODE_DATABASE_URL": postgres}, sandbox, halves[1], args)
            else:
                print("(PostgreSQL skipped: --sqlite-only, or 127.0.0.1:5432 does not answer)")
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
