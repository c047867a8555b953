"""A closed-loop HTTP load from wrk (Debian's ``wrk``, written in C): N keep-alive connections posting
JSON bodies round robin for a fixed time, loopback only, latency percentiles from wrk itself.

Why beside bench.load's aiohttp clients: on this 2-core machine the load generator shares the cores
with the service, and an aiohttp client spends about as much CPU per request as a cheap endpoint
does. wrk spends a few per cent of that, so its figure is closer to what the service can do; the
issues ask for the load generator to be included, and both are (reports name which one ran).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Each connection (wrk runs them on one thread here) takes the next body of the file, in turn.
_POST_BODIES = """
local bodies = {}
local counter = 0
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  counter = math.random(#bodies)
end
function request()
  counter = counter % #bodies + 1
  return wrk.format("POST", nil, nil, bodies[counter])
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class WrkResult:
    name: str
    requests: int
    failed: int  # non-2xx answers and socket errors
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        return (
            f"{self.name:<48} n={self.requests:>6}  p50={self.p50_ms:7.3f} ms  p99={self.p99_ms:7.3f} ms  "
            f"{self.per_second:8,.0f} req/s  errors={self.failed}  (wrk)"
        )


def available() -> bool:
    return shutil.which("wrk") is not None


def post_load(
    name: str,
    url: str,
    bodies: Sequence[bytes],
    *,
    headers: dict[str, str],
    connections: int = 16,
    seconds: float = 10.0,
    threads: int = 1,
) -> WrkResult:
    """Post ``bodies`` (one JSON document each, no newlines) round robin for ``seconds``."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("load tests talk to 127.0.0.1 only")
    wrk = _wrk()
    with tempfile.TemporaryDirectory() as tmp:
        script, lines = Path(tmp) / "post.lua", Path(tmp) / "bodies.ndjson"
        script.write_text(_POST_BODIES)
        lines.write_bytes(b"\n".join(bodies) + b"\n")
        command = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            str(script),
        ]
        for key, value in headers.items():
            command += ["-H", f"{key}: {value}"]
        done = subprocess.run(
            [*command, url, "--", str(lines)],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    return parse_output(name, done.stdout)


def get_load(
    name: str, url: str, *, connections: int = 16, seconds: float = 10.0, threads: int = 1
) -> WrkResult:
    """GET ``url`` over ``connections`` for ``seconds`` (the hello-world peer)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("load tests talk to 127.0.0.1 only")
    command = [_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse_output(name, done.stdout)


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian package wrk)")
    return found


def parse_output(name: str, output: str) -> WrkResult:
    """wrk's report: the request count and time, failures, and the 50% and 99% latencies."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", output)
    if total is None:
        raise RuntimeError(f"wrk printed no totals:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = int(non_2xx.group(1)) if non_2xx else 0
    failed += sum(int(n) for n in sockets.groups()) if sockets else 0
    return WrkResult(
        name,
        int(total.group(1)),
        failed,
        float(total.group(2)) * _UNITS[total.group(3)] / 1000,
        _percentile(output, "50"),
        _percentile(output, "99"),
    )


def _percentile(output: str, which: str) -> float:
    found = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no {which}% latency:\n{output}")
    return float(found.group(1)) * _UNITS[found.group(2)]
