"""The floor under the MLLP gateway's CPU per message (issue 4): of the CPU a new-person ADT^A04
costs, how much is SQLite running the statements the guarantees require, and how much is Python.

1. **The gateway**, in process, on a SQLite file: the CPU per message, as ``mllp_throughput --cpu``
   (8 tasks, each its own group-committed unit of work, AA after the commit).
2. **Capture**: the gateway handles more new-person A04s, one at a time; every statement it hands
   the stdlib driver (the writes, the reads, the ``executemany`` of search tokens, the savepoints) is
   recorded with its arguments, and so are the vault's seals (AES-GCM) and blind indexes (HMAC).
3. **SQLite alone**: those statements, with those arguments, replayed by ``sqlite3`` and nothing else
   on a fresh database of the same schema and PRAGMAs (WAL, foreign keys), 8 messages a transaction
   (BEGIN IMMEDIATE, a savepoint each, one COMMIT), as the group commit runs them: the CPU per
   message SQLite needs (``process_time``; waiting for fsync is not CPU), in total and per
   statement. This is the floor for the storage the guarantees ask (raw message stored, effects and
   outcome in one transaction, audit, outbox, index tokens), with the schema as it is.
4. **Python primitives** the same guarantees need: the seals and blind indexes replayed on their
   recorded inputs, and the parse + mapping of the message (``mappings``).
5. **The transport**: our ``MllpServer`` in a process of its own with a handler that reads the MSH
   and answers AA (nothing stored), and python-hl7's server (the issue's peer) the same way, each
   under 8 connections for a few seconds: their CPU per message (``/proc``), and the load
   generator's (this process).

Everything else in (1) is Python around those: the difference is printed. SQLite only (PostgreSQL's
work is in its server processes, not in ours).

    .venv/bin/python -m bench.mllp_floor [--messages 400] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.mllp_throughput import (
    RUN_BLOCK,
    Result,
    adt,
    closed_loop,
    cpu_per_message,
    measured,
    running_peer,
    serving_process,
)

GROUP = 8  # messages per transaction in the replay: 8 connections' worth, as the group commit runs them


class Capture:
    """The driver statements and vault calls of each message."""

    def __init__(self) -> None:
        self.messages: list[list[tuple[str, Any]]] = []
        self.seals: list[tuple[bytes, bytes]] = []
        self.indexes: list[str] = []
        self.current: list[tuple[str, Any]] | None = None

    def statement(self, sql: str, arguments: Any) -> None:
        if self.current is not None:
            self.current.append((sql, arguments))


@contextmanager
def capturing(capture: Capture) -> Iterator[None]:
    """Record what the SQLite loop units and the vault are asked to do (class attributes patched
    for the duration, put back after)."""
    from adapter.storage import Vault
    from adapter.storage.sql import sqlite_loop
    from adapter.storage.sql.sqlite_loop import LoopConnection

    saved = (LoopConnection.fetch_driver, LoopConnection.write_many_driver, sqlite_loop.driver_sql)
    saved_vault = (Vault.encrypt, Vault.blind_index)
    fetch, write_many, driver_sql = saved
    encrypt, blind_index = saved_vault

    def fetch_driver(self: LoopConnection, sql: str, arguments: Any) -> Any:
        capture.statement(sql, tuple(arguments))
        return fetch(self, sql, arguments)

    def write_many_driver(self: LoopConnection, sql: str, rows: list[tuple[Any, ...]]) -> int:
        capture.statement(sql, list(rows))
        return write_many(self, sql, rows)

    def recorded_driver_sql(conn: Any, sql: str) -> None:
        capture.statement(sql, None)
        driver_sql(conn, sql)

    def recorded_encrypt(self: Vault, plaintext: bytes, *, aad: bytes) -> bytes:
        if capture.current is not None:
            capture.seals.append((plaintext, aad))
        return encrypt(self, plaintext, aad=aad)

    def recorded_blind_index(self: Vault, text: str) -> str:
        if capture.current is not None:
            capture.indexes.append(text)
        return blind_index(self, text)

    LoopConnection.fetch_driver = fetch_driver  # type: ignore[method-assign]
    LoopConnection.write_many_driver = write_many_driver  # type: ignore[method-assign]
    sqlite_loop.driver_sql = recorded_driver_sql  # type: ignore[assignment]
    Vault.encrypt = recorded_encrypt  # type: ignore[method-assign]
    Vault.blind_index = recorded_blind_index  # type: ignore[method-assign]
    try:
        yield
    finally:
        LoopConnection.fetch_driver, LoopConnection.write_many_driver, sqlite_loop.driver_sql = saved  # type: ignore[method-assign]
        Vault.encrypt, Vault.blind_index = saved_vault  # type: ignore[method-assign]


async def capture_messages(count: int, database: Path) -> Capture:
    """The gateway on a fresh SQLite file handles ``count`` new-person A04s, one at a time, recorded."""
    from adapter.hl7v2.bindings import default_bindings
    from adapter.hl7v2.gateway import Gateway
    from adapter.hl7v2.handler import Peer
    from adapter.hl7v2.senders import SenderTable
    from adapter.security.audit import Auditor
    from adapter.storage import SqlStorage, Vault, migrate

    url = f"sqlite+aiosqlite:///{database}"
    await migrate(url)
    storage = SqlStorage(url, Vault.generate())
    gateway = Gateway(storage, default_bindings(), senders=SenderTable(), auditor=Auditor())
    peer = Peer("127.0.0.1", 1)
    capture = Capture()
    try:
        for n in range(RUN_BLOCK, RUN_BLOCK + 10):  # warm-up, not recorded (other people)
            await gateway(adt("W", n)[1:-2], peer)
        with capturing(capture):
            for n in range(count):
                capture.current = []
                assert b"MSA|AA|" in await gateway(adt("F", n)[1:-2], peer)
                capture.messages.append(capture.current)
                capture.current = None
    finally:
        await storage.close()
    return capture


def _kind(sql: str) -> str:
    words = sql.split()
    if words[0] in ("SAVEPOINT", "RELEASE"):
        return words[0]
    table = words[2] if words[0] in ("INSERT", "DELETE") else words[1] if words[0] == "UPDATE" else "?"
    if words[0] == "SELECT":
        table = words[words.index("FROM") + 1] if "FROM" in words else "?"
    return f"{words[0]} {table}"


def replay(capture: Capture, database: Path) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """CPU ms per message of the recorded statements run by sqlite3 alone (grouped as the gateway's
    group commit does), the part of it in COMMIT, and per statement kind (calls and µs per message)."""
    conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    clock = time.process_time
    committing = 0.0
    started = clock()
    messages = capture.messages
    for first in range(0, len(messages), GROUP):
        conn.execute("BEGIN IMMEDIATE")
        for statements in messages[first : first + GROUP]:
            for sql, arguments in statements:
                kind = _kind(sql)
                before = clock()
                if isinstance(arguments, list):
                    conn.executemany(sql, arguments).close()
                elif arguments is None:
                    conn.execute(sql).close()
                else:
                    conn.execute(sql, arguments).fetchall()
                spent[kind] += clock() - before
                calls[kind] += 1
        before = clock()
        conn.execute("COMMIT")
        committing += clock() - before
    total = clock() - started
    conn.close()
    n = len(messages)
    kinds = {kind: (calls[kind] / n, spent[kind] * 1e6 / n) for kind in spent}
    return total * 1000 / n, committing * 1000 / n, kinds


def primitives(capture: Capture) -> dict[str, float]:
    """µs per message of the seals, the blind indexes, and parse + map, on the recorded inputs."""
    from adapter.hl7v2.senders import SenderTable
    from adapter.storage import Vault
    from mappings.hl7v2 import parse
    from mappings.v2_to_fhir import map_message

    vault = Vault.generate()
    n = len(capture.messages)
    texts = [adt("F", i)[1:-2].decode("utf-8") for i in range(n)]
    profile = SenderTable().lookup("HIS^H001").profile

    def seal() -> None:
        for plaintext, aad in capture.seals:
            vault.encrypt(plaintext, aad=aad)

    def index() -> None:
        for text in capture.indexes:
            vault.blind_index(text)

    def parse_map() -> None:
        for text in texts:
            map_message(parse(text), profile)

    out = {}
    for name, run in (("seal", seal), ("blind index", index), ("parse + map", parse_map)):
        out[name] = min(_timed(run) for _ in range(5)) * 1e6 / n
    out["seals per message"] = len(capture.seals) / n
    out["blind indexes per message"] = len(capture.indexes) / n
    return out


def _timed(run: Callable[[], None]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def transport_server(port: int) -> None:
    """Our MLLP server answering AA to every frame from its MSH, storing nothing."""
    from adapter.hl7v2.ack import build_ack
    from adapter.hl7v2.handler import Peer
    from adapter.hl7v2.msh import read_msh
    from adapter.hl7v2.server import MllpServer

    async def answer(frame: bytes, peer: Peer) -> bytes:
        return build_ack(read_msh(frame, default_codec="utf-8"), "AA")

    async def serve() -> None:
        server = MllpServer(host="127.0.0.1", port=port, handler=answer)
        await server.start()
        await asyncio.Event().wait()

    asyncio.run(serve())


@contextmanager
def running_transport() -> Iterator[tuple[int, int]]:
    with serving_process("bench.mllp_floor", "--transport") as running:
        yield running


def transports(seconds: float) -> list[Result]:
    """Ours (AA from the MSH, nothing stored) and python-hl7's, 8 connections each, CPU measured."""
    out = []
    servers = (("ours: MllpServer, AA from the MSH", running_transport), ("python-hl7", running_peer))
    for name, running in servers:
        with running() as (port, pid):
            loop = functools.partial(closed_loop, f"transport {name}", port, 8, seconds, "T")
            out.append(measured(loop, pid))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.mllp_floor")
    parser.add_argument("--messages", type=int, default=400, help="messages captured and replayed")
    parser.add_argument("--seconds", type=float, default=4.0, help="each transport's load run")
    parser.add_argument("--transport", type=int, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args([] if argv is None else argv)
    if args.transport:
        transport_server(args.transport)
        return
    gateway = asyncio.run(cpu_per_message())
    with tempfile.TemporaryDirectory() as tmp:
        capture = asyncio.run(capture_messages(args.messages, Path(tmp) / "captured.sqlite"))
        fresh = f"sqlite+aiosqlite:///{Path(tmp) / 'replay.sqlite'}"
        from adapter.storage import migrate

        asyncio.run(migrate(fresh))
        sqlite_ms, commit_ms, kinds = replay(capture, Path(tmp) / "replay.sqlite")
    prims = primitives(capture)
    transport = transports(args.seconds)
    gateway_ms = statistics.median(gateway)
    print(f"== MLLP gateway floor, new-person ADT^A04, SQLite file, {args.messages} messages ==")
    print(f"  the gateway in process (8 tasks, group commit): {gateway_ms:.2f} ms CPU per message (median)")
    statements = sum(c for k, (c, _) in kinds.items() if k not in ("SAVEPOINT", "RELEASE"))
    print(
        f"  SQLite alone, the same {statements:.1f} statements per message, {GROUP} messages a "
        f"transaction: {sqlite_ms:.3f} ms CPU per message (COMMIT {commit_ms:.3f} ms of it)"
    )
    for kind, (count, us) in sorted(kinds.items(), key=lambda item: -item[1][1]):
        print(f"    {kind:<32} {count:5.1f} a message  {us:7.1f} µs")
    print(
        f"  seals (AES-GCM, {prims['seals per message']:.0f} a message): {prims['seal']:.0f} µs; blind "
        f"indexes (HMAC, {prims['blind indexes per message']:.0f} a message): {prims['blind index']:.0f} µs; "
        f"parse + map: {prims['parse + map']:.0f} µs"
    )
    python_ms = gateway_ms - sqlite_ms
    print(
        f"  Python (the gateway less SQLite alone): {python_ms:.2f} ms a message "
        f"({100 * python_ms / gateway_ms:.0f}%), of which the primitives above "
        f"{(prims['seal'] + prims['blind index'] + prims['parse + map']) / 1000:.2f} ms"
    )
    for result in transport:
        print(
            f"  {result.name}, 8 connections: {result.rate:,.0f} msg/s, CPU per message: server "
            f"{result.server_cpu_ms or 0:.2f} ms, load generator {result.client_cpu_ms or 0:.2f} ms"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
