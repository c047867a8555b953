"""Sampling point registrations over HTTP: `dualcode serve` and the card-platform SIMULATOR as real
processes on loopback, ``--clients`` concurrent clients scanning people into pooled tubes of 20 for a
bounded time; then the time to ingest one offline batch. SQLite, and PostgreSQL when it answers.

python -m bench.sampling [--seconds 20] [--clients 16] [--people 30000] [--batch-lines 10000]
    [--index 0] [--keep DIR] [--backends sqlite,postgres] [--runs 1] [--baseline TREE]

- ``--index N``: the patient index holds N people before the run (issue 6 asks for 1,000,000): the
  sandbox's population (seed 2026, today) exported and loaded with `dualcode mpi import`, and the
  people scanned are people of that index (found, not created), as at a real sampling point. With
  ``--keep DIR`` the loaded index is kept (SQLite file and keys; PostgreSQL database
  ``dualcode_bench_sampling_<N>``) and later runs start from a copy of it (a SQLite copy is synced
  to disk before the run starts). With ``--in-place`` runs use the kept index itself (the SQLite
  file, or the PostgreSQL database), no copy: for an index of 1,000,000 (16 GB on SQLite, ~20 GB
  on PostgreSQL; each run's tubes, scan ids and sampling round are new, ``run_tag``). With
  ``--index 0`` every person scanned is new to the index (created by the scan), as the first
  figures were taken.
- ``--runs R``: R load phases per backend (a fresh copy of the index each), figures of each and
  the median; the batch is ingested after the first. Every phase scans the same ``--people``
  people (their index pages then warm from the phase before) unless ``--fresh-people``: each phase
  its own people, none scanned twice in the run, as in a real round; ``--skip-people K`` starts
  after the index's first K people (those an earlier invocation scanned).
- ``--baseline TREE``: a copy of the source tree (e.g. the code before a change) whose service runs
  each load phase too, alternating with this tree's (A/B in the same run, on the same machine load).

Every registration takes the real path: platform verify (EHC static code, HTTP to the simulator),
patient index resolve (step ``sampling``: identification only), bind.

python -m bench.sampling --own [--seconds 10] [--clients 16] [--backends sqlite,postgres]

python -m bench.sampling --simulator [--seconds 10] [--clients 16] [--runs R] [--baseline TREE]

measures the card-platform SIMULATOR alone: its CPU per EHC verify call (static codes of 2,000
people, ``--clients`` connections from wrk), the simulator of ``--baseline TREE`` alternated with it.

measures what the sampling code itself costs, in process, without HTTP or identification: the
closed-tube pre-check and the bind (``SamplingService.precheck`` + ``bind``) of already identified
people, ``--clients`` tasks at once on a fresh database. With ``--baseline TREE`` it runs in a
process on that tree too (A/B in the same run).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench.stats import percentile
from tests.e2e.harness import BIN, RunningSandbox, RunningService, sandbox_env, start_sandbox, start_service

POOL = 20
SEED = 2026
START = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-v", "ON_ERROR_STOP=1"]
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{}"
TEMPLATE_DB = "dualcode_bench_sampling"  # + _<people>: a kept index
RUN_DB = f"dualcode_bench_sampling_run{os.getpid()}"  # this process's copy: runs side by side


@dataclass(frozen=True)
class Variant:
    name: str  # "new", or "base" for --baseline
    pythonpath: str | None = None


GROW_STEP = 100_000  # the sandbox creates at most this many people a call


def grow_people(sandbox: RunningSandbox, count: int) -> list[str]:
    """EHC static codes (``<ehc_id>:1``, reusable) of the sandbox's people 1..count (grown now)."""
    people: list[dict[str, Any]] = []
    while len(people) < count:
        step = min(GROW_STEP, count - len(people))
        answer = httpx.post(f"{sandbox.base_url}/sandbox/people", json={"count": step}, timeout=1800)
        answer.raise_for_status()
        people += answer.json()["people"]
    return [f"{person['ehc_id']}:1" for person in people]


def psql(*commands: str) -> None:
    args = [*PG_ADMIN]
    for command in commands:
        args += ["-c", command]
    subprocess.run(args, check=True, capture_output=True, timeout=1800)


def database_exists(name: str) -> bool:
    found = subprocess.run(
        [*PG_ADMIN, "-At", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return found.stdout.strip() == b"1"


def postgres_answers() -> bool:
    try:
        psql("SELECT 1")
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def key_env(keys: Path) -> dict[str, str]:
    return {
        "DUALCODE_DATA_KEYS_FILE": str(keys / "data-keys.json"),
        "DUALCODE_BLIND_INDEX_KEY_FILE": str(keys / "blind-index.key"),
        "DUALCODE_TOKEN_SIGNING_KEY_FILE": str(keys / "token-signing.key"),
    }


class Index:
    """A patient index of ``count`` people loaded once, copied fresh for every service run."""

    def __init__(self, backend: str, count: int, root: Path) -> None:
        self.backend, self.count = backend, count
        self.home = root / f"{backend}-{count}"
        self.keys = self.home / "keys"
        self.template = f"{TEMPLATE_DB}_{count}"

    def prepare(self, people_file: Path | None) -> None:
        done = self.home / "loaded"
        if done.exists():
            return
        if people_file is None:
            raise SystemExit("--index needs the exported people file")
        if self.backend == "postgres" and database_exists(self.template):
            # Its name is the same for every --keep directory: another one's index, never dropped here.
            raise SystemExit(
                f"PostgreSQL database {self.template} exists but {self.home} does not hold its keys: "
                f"use the --keep directory it was loaded with, or drop it first"
            )
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        if self.backend == "postgres":
            psql(f"CREATE DATABASE {self.template}")
        started = time.perf_counter()
        done_run = subprocess.run(
            [str(BIN / "dualcode"), "mpi", "import", str(people_file), "--quiet"],
            env=self._env(),
            capture_output=True,
            check=True,
        )
        took = time.perf_counter() - started
        summary = done_run.stdout.decode().strip()
        print(
            f"  {self.backend}: index of {self.count:,} people loaded in {took:,.0f} s  {summary}", flush=True
        )
        if self.backend == "sqlite":  # one file, WAL folded in, so a copy is the whole database
            import sqlite3

            with sqlite3.connect(self.home / "index.sqlite") as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        done.write_text(str(self.count))

    def _env(self) -> dict[str, str]:
        url = f"sqlite+aiosqlite:///{self.home / 'index.sqlite'}"
        if self.backend == "postgres":
            url = PG_URL.format(self.template)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUALCODE_")}
        env.update({"DUALCODE_DATABASE_URL": url, "DUALCODE_DATA_DIR": str(self.home), **key_env(self.keys)})
        return env

    def migrate(self) -> None:
        """Bring the kept index to the current schema (a migration added since it was loaded would
        otherwise run at every service start, on a copy, within the start-up timeout)."""
        started = time.perf_counter()
        subprocess.run([str(BIN / "dualcode"), "migrate"], env=self._env(), capture_output=True, check=True)
        if self.backend == "sqlite":
            import sqlite3

            with sqlite3.connect(self.home / "index.sqlite") as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"  {self.backend}: index migrated in {time.perf_counter() - started:,.1f} s", flush=True)

    def fresh_copy(self, tmp: Path, *, in_place: bool = False) -> dict[str, str]:
        """The settings of a service on a new copy of the index, or with ``in_place`` on the kept index
        itself (the SQLite file, or the PostgreSQL template database): runs then add their
        registrations to it (tubes and scan ids of each run are new: ``run_tag``), and no 16 GB copy
        is made per run."""
        if self.backend == "postgres" and in_place:  # a 1M database is ~20 GB: no copy per run
            url = PG_URL.format(self.template)
        elif self.backend == "postgres":
            psql(f"DROP DATABASE IF EXISTS {RUN_DB}", f"CREATE DATABASE {RUN_DB} TEMPLATE {self.template}")
            url = PG_URL.format(RUN_DB)
        elif in_place:
            url = f"sqlite+aiosqlite:///{self.home / 'index.sqlite'}"
        else:
            copy = tmp / "dualcode.sqlite"
            started = time.perf_counter()
            shutil.copyfile(self.home / "index.sqlite", copy)
            # On disk before the run: otherwise the copy's dirty pages are written back during the
            # load phase, and SQLite's first checkpoint (fsync of the database file) waits for them.
            with copy.open("rb+") as written:
                os.fsync(written.fileno())
            print(f"  index copied and synced in {time.perf_counter() - started:,.1f} s", flush=True)
            url = f"sqlite+aiosqlite:///{copy}"
        return {"DUALCODE_DATABASE_URL": url, **key_env(self.keys)}


def empty_database(backend: str, tmp: Path) -> dict[str, str]:
    if backend == "postgres":
        psql(f"DROP DATABASE IF EXISTS {RUN_DB}", f"CREATE DATABASE {RUN_DB}")
        return {"DUALCODE_DATABASE_URL": PG_URL.format(RUN_DB)}
    return {}  # the harness's SQLite file in the data directory


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
                body = registration_body(code, tag, k, n)
                started = time.perf_counter()
                async with session.post(f"{base}/sampling/registrations", json=body) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    ms = sorted(x * 1000 for x in latencies)
    return {
        "statuses": statuses,
        "seconds": elapsed,
        "n": len(ms),
        "p50": statistics.median(ms) if ms else 0.0,
        "p99": percentile(ms, 0.99) if ms else 0.0,
        "max": ms[-1] if ms else 0.0,
        "generator_cpu_s": cpu,
    }


# wrk's Lua: each thread posts the bodies it was given, one after another, to ``path``.
LUA_POSTS = r"""
function request()
  n = n + 1
  if n > #bodies then n = 1 end
  return wrk.format("POST", path, nil, bodies[n])
end
"""

# wrk's Lua: each thread posts its share of the bodies (one JSON object a line), in order, and
# counts the answers by status; done() prints one JSON line with the figures.
WRK_LUA = (
    LUA_POSTS
    + r"""
path = "/sampling/registrations"
local threads, count = {}, 0
function setup(thread)
  thread:set("id", count)
  table.insert(threads, thread)
  count = count + 1
end
function init(args)
  local every = tonumber(args[2])
  bodies, n, created, repeated, other = {}, 0, 0, 0, 0
  local i = 0
  for line in io.lines(args[1]) do
    if i % every == id then bodies[#bodies + 1] = line end
    i = i + 1
  end
end
function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 200 then repeated = repeated + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local c, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); r = r + t:get("repeated"); o = o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    '\nWRK {"created": %d, "repeated": %d, "other": %d, "requests": %d, "seconds": %.6f, '
    .. '"p50": %.3f, "p99": %.3f, "max": %.3f, "socket_errors": %d}\n',
    c, r, o, summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout))
end
"""
)
WRK_THREADS = 2


def registration_body(code: str, tag: str, client: int, n: int) -> dict[str, Any]:
    """Client ``client``'s ``n``-th scan: people go into that client's tubes, 20 a tube."""
    return {
        "code": code,
        "tube": f"B{tag}{client:02d}T{n // POOL:05d}",
        "point": "BENCH01",
        "pool_size": POOL,
    }


def load_wrk(
    base: str, token: str, codes: list[str], *, clients: int, seconds: float, tag: str, tmp: Path
) -> dict[str, Any]:
    """The same load from wrk (C, epoll): ``clients`` connections on ``WRK_THREADS`` threads. Bodies
    interleave the clients' scans, so the connections fill ``clients`` tubes side by side."""
    per_client = len(codes) // clients
    rows = [
        json.dumps(registration_body(codes[k * per_client + n], tag, k, n))
        for n in range(per_client)
        for k in range(clients)
    ]
    bodies, script = tmp / f"wrk-bodies-{tag}.ndjson", tmp / "wrk-sampling.lua"
    bodies.write_text("\n".join(rows) + "\n")
    script.write_text(WRK_LUA)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        ["wrk", "-t", str(min(WRK_THREADS, clients)), "-c", str(clients), "-d", f"{seconds:.0f}s",
         "--timeout", "10s", "-s", str(script), "-H", f"Authorization: Bearer {token}",
         "-H", "Content-Type: application/json", base, "--", str(bodies), str(min(WRK_THREADS, clients))],
        capture_output=True, check=True, timeout=seconds + 60,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in done.stdout.decode().splitlines() if x.startswith("WRK "))
    got = json.loads(line.removeprefix("WRK "))
    statuses = {201: got["created"], 200: got["repeated"], 0: got["other"] + got["socket_errors"]}
    return {
        "statuses": {k: v for k, v in statuses.items() if v},
        "seconds": got["seconds"],
        "n": got["requests"],
        "p50": got["p50"],
        "p99": got["p99"],
        "max": got["max"],
        "generator_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def batch_body(codes: list[str], lines: int, tag: str) -> bytes:
    rows = [
        {
            "client_ref": f"{tag}-{n}",
            "scanned_at": (START + timedelta(seconds=n / 10)).isoformat(),
            "code": codes[n % len(codes)],
            "tube": f"Q{tag}T{n // POOL:06d}",
            "point": "BENCH02",
            "pool_size": POOL,
        }
        for n in range(lines)
    ]
    return ("\n".join(json.dumps(row) for row in rows) + "\n").encode()


# Compiled modules kept out of the source tree, so a service starts in seconds on a busy machine
# (the harness gives it 30 s to answer; without .pyc files the imports alone can take that long).
PYCACHE = {
    "PYTHONDONTWRITEBYTECODE": "",
    "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "dualcode-bench-pycache"),
}


def start(tmp: Path, env: dict[str, str]) -> RunningService:
    """``dualcode serve`` on this copy; tried three times (a loaded machine can miss the deadline)."""
    for attempt in range(3):
        try:
            return start_service(tmp, {**env, **PYCACHE})
        except RuntimeError:
            if attempt == 2:
                raise
            print("  (the service did not answer in time; starting it again)", flush=True)
    raise AssertionError("unreachable")


def disk_reads(pid: int) -> int:
    """Bytes a process and the processes under it (``--workers``) have read from disk so far
    (page-cache misses; Linux /proc/PID/io)."""
    total = 0
    for member in _process_tree(pid):
        try:
            lines = Path(f"/proc/{member}/io").read_text().splitlines()
        except OSError:  # gone meanwhile
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("read_bytes:"))
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and the processes under it (``--workers``) have used so
    far, from Linux /proc."""
    stats = _stats()
    total = sum(int(stats[m][11]) + int(stats[m][12]) for m in _process_tree(pid, stats) if m in stats)
    return total / os.sysconf("SC_CLK_TCK")


def _stats() -> dict[int, list[str]]:
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
    return stats


def _process_tree(pid: int, stats: dict[int, list[str]] | None = None) -> set[int]:
    stats = _stats() if stats is None else stats
    tree, grown = {pid}, True
    while grown:
        grown = False
        for child, fields in stats.items():
            if child not in tree and int(fields[1]) in tree:
                tree.add(child)
                grown = True
    return tree


def run_once(
    *,
    backend: str,
    variant: Variant,
    database: dict[str, str],
    tmp: Path,
    sandbox: RunningSandbox,
    codes: list[str],
    batch: bytes | None,
    args: argparse.Namespace,
    tag: str,
) -> dict[str, float]:
    env = {
        **database,
        **sandbox_env(sandbox),
        "DUALCODE_MAX_BODY_BYTES": str(max(len(batch or b""), 65536) + 1024),
        "DUALCODE_SAMPLING_MAX_BATCH_LINES": str(max(args.batch_lines, 1)),
        "DUALCODE_MLLP_ENABLED": "false",
        "DUALCODE_CARDS_HOSPITAL_CODE": "H0001",
        "DUALCODE_HTTP_WORKERS": str(args.workers),
        # A round of its own per run: a kept index is scanned again by every run, and in a real
        # round each person comes once (else every scan is flagged as in another tube of the round).
        "DUALCODE_SAMPLING_ROUND": f"bench-{tag}",
    }
    if variant.pythonpath:
        env["PYTHONPATH"] = variant.pythonpath
    service = start(tmp, env)
    figures: dict[str, float] = {}
    try:
        token = service.token("sampling", name="bench-sampling")
        cpu = {"service": cpu_seconds(service.process.pid), "sandbox": cpu_seconds(sandbox.process.pid)}
        read_before = disk_reads(service.process.pid)
        if args.wrk:
            run = load_wrk(
                service.base_url, token, codes, clients=args.clients, seconds=args.seconds, tag=tag, tmp=tmp
            )
        else:
            run = asyncio.run(
                load(service.base_url, token, codes, clients=args.clients, seconds=args.seconds, tag=tag)
            )
        cpu = {
            "service": cpu_seconds(service.process.pid) - cpu["service"],
            "sandbox": cpu_seconds(sandbox.process.pid) - cpu["sandbox"],
        }
        created = run["statuses"].get(201, 0)
        rate = created / run["seconds"]
        cpu["generator"] = run["generator_cpu_s"]
        per = {k: v * 1000 / max(run["n"], 1) for k, v in cpu.items()}
        read_kib = (disk_reads(service.process.pid) - read_before) / 1024 / max(run["n"], 1)
        figures = {"rate": rate, "p50": run["p50"], "p99": run["p99"], **per}
        name = f"{backend} {variant.name} ({'wrk' if args.wrk else 'aiohttp'}): POST /sampling/registrations"
        print(
            f"{name:<56} n={run['n']:>6}  p50={run['p50']:7.1f} ms  p99={run['p99']:7.1f} ms  "
            f"max={run['max']:7.1f} ms  {rate:7,.1f} registrations/s  {run['statuses']}  "
            f"CPU/registration: service {per['service']:.2f} ms, simulator {per['sandbox']:.2f} ms, "
            f"load generator {per['generator']:.2f} ms  service disk reads {read_kib:,.0f} KiB/registration  "
            f"load avg {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if batch is not None:
            started = time.perf_counter()
            batch_cpu = {
                "service": cpu_seconds(service.process.pid),
                "sandbox": cpu_seconds(sandbox.process.pid),
            }
            answer = httpx.post(
                f"{service.base_url}/sampling/registrations:batch",
                content=batch,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
                timeout=7200,
            )
            took = time.perf_counter() - started
            batch_cpu = {
                "service": cpu_seconds(service.process.pid) - batch_cpu["service"],
                "sandbox": cpu_seconds(sandbox.process.pid) - batch_cpu["sandbox"],
            }
            summary = answer.json() if answer.status_code == 200 else {"error": answer.text[:300]}
            counts = {k: summary.get(k) for k in ("created", "existing", "rejected", "error") if k in summary}
            reasons: dict[str, int] = {}
            for answer_line in summary.get("lines", []):
                if answer_line.get("status") == "rejected":
                    code = str(answer_line.get("error", {}).get("code"))
                    reasons[code] = reasons.get(code, 0) + 1
            if reasons:
                counts["rejected_by_code"] = reasons
            lines = args.batch_lines
            size = f"{lines:,} lines, {len(batch) / 1e6:.1f} MB"
            print(
                f"{backend} {variant.name}: offline batch ({size}) in {took:.1f} s = "
                f"{lines / took:,.0f} lines/s  {counts}  CPU/line: service "
                f"{batch_cpu['service'] * 1000 / lines:.2f} ms, "
                f"simulator {batch_cpu['sandbox'] * 1000 / lines:.2f} ms  "
                f"load avg {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            figures["batch_s"] = took
    finally:
        service.stop()
        if backend == "postgres":
            psql(f"DROP DATABASE IF EXISTS {RUN_DB}")
    return figures


RUN_NONCE = "".join("0123456789abcdefghijklmnopqrstuvwxyz"[int(time.time()) // 36**k % 36] for k in range(4))


def run_tag(backend: str, run: int, variant: Variant) -> str:
    """Tubes and scan ids of this run: new to any index (kept indexes keep earlier runs' rows)."""
    return f"{backend[:2]}{run}{variant.name[0]}{RUN_NONCE}"


def measure(
    backend: str,
    sandbox: RunningSandbox,
    codes: list[str],
    batch_codes: list[str],
    index: Index | None,
    variants: list[Variant],
    args: argparse.Namespace,
) -> None:
    tag = f"{backend[:2]}{RUN_NONCE}"
    batch = batch_body(batch_codes, args.batch_lines, tag) if args.batch_lines else None
    results: dict[str, list[dict[str, float]]] = {v.name: [] for v in variants}
    for run in range(args.runs):
        for number, variant in enumerate(variants):
            phase = run * len(variants) + number
            mine = codes[phase * args.people : (phase + 1) * args.people] if args.fresh_people else codes
            with tempfile.TemporaryDirectory() as name:
                tmp = Path(name)
                database = (
                    index.fresh_copy(tmp, in_place=args.in_place) if index else empty_database(backend, tmp)
                )
                figures = run_once(
                    backend=backend,
                    variant=variant,
                    database=database,
                    tmp=tmp,
                    sandbox=sandbox,
                    codes=mine,
                    batch=batch if run == 0 and variant.name == "new" else None,
                    args=args,
                    tag=run_tag(backend, run, variant),
                )
                results[variant.name].append(figures)
    for name, runs in results.items():
        if len(runs) > 1:
            keys = ("rate", "p50", "p99", "service", "sandbox", "generator")
            median = {k: statistics.median(r[k] for r in runs) for k in keys}
            print(
                f"{backend} {name}: median of {len(runs)} runs: {median['rate']:,.1f} registrations/s  "
                f"p50 {median['p50']:.1f} ms  p99 {median['p99']:.1f} ms  CPU/registration: service "
                f"{median['service']:.2f} ms, simulator {median['sandbox']:.2f} ms, "
                f"load generator {median['generator']:.2f} ms",
                flush=True,
            )


async def own_cost(url: str, *, clients: int, seconds: float) -> dict[str, float]:
    """Pre-check + bind of already identified people, ``clients`` at once, for ``seconds``."""
    from adapter.sampling.service import Identified, SamplingService
    from adapter.sampling.values import RegistrationRequest
    from adapter.security.audit import Auditor
    from adapter.security.audit_writer import AuditWriter
    from adapter.security.caller import Caller
    from adapter.security.scopes import SAMPLING_SCOPE
    from adapter.storage import SqlStorage, Vault, migrate

    await migrate(url)
    storage = SqlStorage(url, Vault.generate())
    writer = AuditWriter(storage)
    await writer.start()
    extra: dict[str, Any] = {}
    if "group_binds" in inspect.signature(SamplingService).parameters:  # as the service is wired
        extra["group_binds"] = not url.startswith("postgresql")
    service = SamplingService(
        storage=storage,
        scan=None,  # type: ignore[arg-type]  # people come identified
        auditor=Auditor(),
        audit_writer=writer,
        tube_pattern="[A-Za-z0-9]{8,20}",
        **extra,
    )
    caller = Caller(client_id="bench", scopes=frozenset({SAMPLING_SCOPE}))
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            request = RegistrationRequest(
                code="-", tube=f"OWN{k:02d}T{n // POOL:06d}", point="P1", pool_size=POOL
            )
            started = time.perf_counter()
            await service.precheck(request)
            await service.bind(request, Identified(f"pat-{k}-{n}", "张*"), caller)
            latencies.append(time.perf_counter() - started)
            n += 1

    try:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await writer.stop()
        await storage.close()
    ms = [x * 1000 for x in latencies]
    return {
        "rate": len(ms) / elapsed,
        "p50": statistics.median(ms),
        "p99": percentile(ms, 0.99),
        "cpu_ms": cpu * 1000 / max(len(ms), 1),
    }


def own(args: argparse.Namespace, backends: list[str], variants: list[Variant]) -> None:
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.runs):
        for backend in backends:
            for variant in variants:
                with tempfile.TemporaryDirectory() as name:
                    url = f"sqlite+aiosqlite:///{name}/own.sqlite"
                    if backend == "postgres":
                        empty_database(backend, Path(name))
                        url = PG_URL.format(RUN_DB)
                    code = (
                        "import asyncio, json, sys; from bench.sampling import own_cost; "
                        f"print(json.dumps(asyncio.run(own_cost({url!r}, clients={args.clients}, "
                        f"seconds={args.seconds}))))"
                    )
                    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALCODE_")}
                    env.update(PYCACHE)
                    env["PYTHONPATH"] = variant.pythonpath or str(Path(__file__).resolve().parents[1])
                    done = subprocess.run(
                        [sys.executable, "-c", code], env=env, capture_output=True, cwd=name
                    )
                    if backend == "postgres":
                        psql(f"DROP DATABASE IF EXISTS {RUN_DB}")
                    if done.returncode:
                        raise SystemExit(done.stderr.decode()[-3000:])
                    got = json.loads(done.stdout.decode().strip().splitlines()[-1])
                    results.setdefault((backend, variant.name), []).append(got)
                    print(
                        f"{backend} {variant.name}: own cost (pre-check + bind, {args.clients} tasks): "
                        f"{got['rate']:7,.0f} registrations/s  p50 {got['p50']:.2f} ms  "
                        f"p99 {got['p99']:.2f} ms  CPU {got['cpu_ms']:.2f} ms/registration (this process)  "
                        f"load avg {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
    for (backend, name), runs in results.items():
        if len(runs) > 1:
            median = {k: statistics.median(r[k] for r in runs) for k in ("rate", "p50", "p99", "cpu_ms")}
            print(
                f"{backend} {name}: own cost, median of {len(runs)} runs: {median['rate']:,.0f} "
                f"registrations/s  p50 {median['p50']:.1f} ms  p99 {median['p99']:.1f} ms  "
                f"CPU {median['cpu_ms']:.2f} ms/registration",
                flush=True,
            )


VERIFY_LUA = (
    LUA_POSTS
    + r"""
path = "/ehc/api/v1/qrcode/verify"
function init(args)
  bodies, n = {}, 0
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end
"""
)


def simulator_cost(args: argparse.Namespace, variants: list[Variant]) -> None:
    """The SIMULATOR's CPU per EHC verify (static codes of 2,000 people), ``--clients`` connections
    from wrk for ``--seconds``; with ``--baseline`` the simulator of that tree too, alternated."""
    verify = {"time": "20261129120000", "scanner_id": "S", "city_code": "371600", "hospital_code": "H1"}
    verify |= {"channel": "01", "step": "0101"}
    for _ in range(args.runs):
        for variant in variants:
            with tempfile.TemporaryDirectory() as name:
                tmp, saved = Path(name), os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = variant.pythonpath or str(Path(__file__).resolve().parents[1])
                try:
                    sandbox = start_sandbox(tmp / "sandbox.log", "--people", "1", "--his-mllp-port", "-1")
                finally:
                    if saved is None:
                        del os.environ["PYTHONPATH"]
                    else:
                        os.environ["PYTHONPATH"] = saved
                try:
                    rows = [json.dumps({"qr_code": code, **verify}) for code in grow_people(sandbox, 2000)]
                    (tmp / "bodies.ndjson").write_text("\n".join(rows) + "\n")
                    (tmp / "verify.lua").write_text(VERIFY_LUA)
                    cpu = cpu_seconds(sandbox.process.pid)
                    done = subprocess.run(
                        ["wrk", "-t", "1", "-c", str(args.clients), "-d", f"{args.seconds:.0f}s",
                         "-s", str(tmp / "verify.lua"), "-H", "Content-Type: application/json",
                         sandbox.base_url, "--", str(tmp / "bodies.ndjson")],
                        capture_output=True, check=True, timeout=args.seconds + 60,
                    )  # fmt: skip
                    cpu = cpu_seconds(sandbox.process.pid) - cpu
                finally:
                    sandbox.stop()
            out = done.stdout.decode()
            calls = int(next(x for x in out.splitlines() if "requests in" in x).split()[0])
            print(
                f"simulator {variant.name}: {calls:,} EHC verify calls in {args.seconds:.0f} s, "
                f"{cpu * 1000 / max(calls, 1):.3f} ms of CPU each  load avg {os.getloadavg()[0]:.1f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sampling")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each load phase")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--people", type=int, default=30_000, help="people scanned in the load phase")
    parser.add_argument(
        "--fresh-people",
        action="store_true",
        help="every load phase scans --people people of its own (no one is scanned twice in the run)",
    )
    parser.add_argument(
        "--skip-people", type=int, default=0, help="start after this many people of the index"
    )
    parser.add_argument("--batch-lines", type=int, default=10_000, help="offline batch size (issue: 100000)")
    parser.add_argument(
        "--index", type=int, default=0, help="people in the index before the run (issue: 1e6)"
    )
    parser.add_argument("--people-file", type=Path, help="an export of at least --index people to load")
    parser.add_argument("--keep", type=Path, help="keep loaded indexes here and reuse them")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="a source tree to run A/B against")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--own", action="store_true", help="only the sampling code's own cost, in process")
    parser.add_argument("--wrk", action="store_true", help="drive the load with wrk instead of aiohttp")
    parser.add_argument("--simulator", action="store_true", help="only the simulator's CPU per verify call")
    parser.add_argument("--workers", type=int, default=1, help="the service's HTTP worker processes")
    parser.add_argument(
        "--in-place", action="store_true", help="run on the kept index itself (no copy per run)"
    )
    args = parser.parse_args([] if argv is None else argv)  # `python -m bench` calls main()
    backends = ["sqlite"] if args.sqlite_only else args.backends.split(",")
    if "postgres" in backends and not postgres_answers():
        print("(PostgreSQL skipped: 127.0.0.1:5432 does not answer)")
        backends.remove("postgres")
    variants = [Variant("new")]
    if args.baseline:
        variants.insert(0, Variant("base", str(args.baseline.resolve())))
    if args.own:
        own(args, backends, variants)
        return
    if args.simulator:
        simulator_cost(args, variants)
        return
    phases = args.runs * len(variants) if args.fresh_people else 1
    loaded = args.people * phases
    scanned = loaded + (args.batch_lines if not args.index else 0)
    if args.index:  # people skip+1.. of the export
        scanned = min(args.skip_people + loaded + args.batch_lines, args.index - 1) - args.skip_people
    print(
        f"== sampling: {args.clients} clients, {args.seconds:.0f} s, tubes of {POOL}, "
        f"index of {args.index:,} people, {scanned:,} people scanned, loopback, "
        f"load avg {os.getloadavg()[0]:.1f} =="
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        keep = args.keep or tmp / "indexes"
        indexes = {b: Index(b, args.index, keep) for b in backends} if args.index else {}
        people_file = args.people_file
        if (
            indexes
            and people_file is None
            and not all((i.home / "loaded").exists() for i in indexes.values())
        ):
            people_file = tmp / "people.ndjson"
            started = time.perf_counter()
            subprocess.run(
                [str(BIN / "dualcode"), "sandbox", "export", "--count", str(args.index),
                 "--out", str(people_file), "--seed", str(SEED),
                 "--today", datetime.now(UTC).date().isoformat()],
                check=True, capture_output=True,
            )  # fmt: skip
            print(f"  exported {args.index:,} people in {time.perf_counter() - started:,.0f} s", flush=True)
        for index in indexes.values():
            index.prepare(people_file)
            index.migrate()
        sandbox = start_sandbox(
            tmp / "sandbox.log", "--people", "1", "--seed", str(SEED), "--his-mllp-port", "-1"
        )
        try:
            codes = grow_people(sandbox, args.skip_people + scanned)[args.skip_people :]
            load_codes = codes[:loaded]
            batch_codes = codes[loaded:] or codes  # an index smaller than both: people rescanned
            for backend in backends:
                measure(backend, sandbox, load_codes, batch_codes, indexes.get(backend), variants, args)
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
