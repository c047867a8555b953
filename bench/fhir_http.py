"""FHIR API over HTTP: `dualcode serve` (SQLite, real process) under 16 concurrent clients, beside a
plain FastAPI hello-world measured the same way in the same run (the ratio is the figure to quote:
the load generator shares the 2 cores)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import LoadResult, closed_loop
from tests.e2e.harness import free_port, start_service

SYSTEM = "urn:oid:2.16.156.10011.1.3"
PATIENTS = 1000


def seed(base: str, token: str) -> list[str]:
    ids = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(headers=headers, timeout=30) as client:
        for n in range(PATIENTS):
            body = {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": f"H{n:017d}"}]}
            answer = client.post(f"{base}/fhir/Patient", json=body)
            answer.raise_for_status()
            ids.append(answer.json()["id"])
    return ids


def hello_peer() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.hello_app", str(port)])
    url = f"http://127.0.0.1:{port}/hello"
    for _ in range(100):
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


def measure(backend: str, env: dict[str, str]) -> list[LoadResult]:
    with tempfile.TemporaryDirectory() as tmp:
        service = start_service(Path(tmp), env)
        try:
            token = service.token("admin", name="bench")
            ids = seed(service.base_url, token)
            auth = {"Authorization": f"Bearer {token}"}
            base = service.base_url
            read = asyncio.run(closed_loop(
                f"{backend}: GET /fhir/Patient/{{id}}",
                lambda n: f"{base}/fhir/Patient/{ids[n % PATIENTS]}", headers=auth,
            ))  # fmt: skip
            search = asyncio.run(closed_loop(
                f"{backend}: GET /fhir/Patient?identifier=",
                lambda n: f"{base}/fhir/Patient?identifier={SYSTEM}|H{n % PATIENTS:017d}",
                headers=auth,
            ))  # fmt: skip
        finally:
            service.stop()
    return [read, search]


def main() -> None:
    print(f"== FHIR API over HTTP: 16 concurrent clients, 8 s each, {PATIENTS} patients, loopback ==")
    results = measure("sqlite", {})
    postgres = fresh_postgres_database()
    if postgres:
        results += measure("postgres", {"DUALCODE_DATABASE_URL": postgres})
    else:
        print("(PostgreSQL on 127.0.0.1:5432 does not answer: PostgreSQL skipped)")
    process, url = hello_peer()
    try:
        hello = asyncio.run(closed_loop("peer: FastAPI hello-world", lambda n: url))
    finally:
        process.terminate()
        process.wait(timeout=10)
    for result in [*results, hello]:
        print(f"{result.line()}  ratio to peer {result.per_second / hello.per_second:.3f}")


if __name__ == "__main__":
    main()
