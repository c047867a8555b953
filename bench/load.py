"""A small closed-loop HTTP load generator (aiohttp): N concurrent clients for a fixed time, loopback only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bench.stats import latency_line


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_s: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        rate = f"{self.per_second:8,.0f} req/s"
        return f"{latency_line(self.name, self.latencies_s)}  {rate}  errors={self.errors}"


async def closed_loop(
    name: str,
    next_url: Callable[[int], str],
    *,
    headers: dict[str, str] | None = None,
    clients: int = 16,
    seconds: float = 8.0,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers=headers or {}) as session:

        async def worker(worker_id: int) -> None:
            nonlocal errors
            n = worker_id
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(next_url(n)) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)
                n += clients

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return LoadResult(name, len(latencies), errors, elapsed, latencies)
