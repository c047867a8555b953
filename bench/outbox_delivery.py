"""Outbox delivery to the SIMULATED HIS over MLLP with ACK, on SQLite: a backlog drained after an outage.

Writes ``--events`` "*" events over ``--patients`` patients while no dispatcher runs (the outage),
then starts one dispatcher with ``--hospitals`` MLLP destinations (one persistent connection each) and
times the drain: fan-out, claim, render ADT^A08, send, ACK, settle. The HIS receiver runs on its own
thread and event loop in this process (same cores, sharing our interpreter lock), or with
``--his-process`` in a process of its own (as a real HIS is: it then parses on the other core).

Run: ``.venv/bin/python -m bench.outbox_delivery`` (or ``--events 5000 --hospitals 4``). Bounded by
``--max-seconds``; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from adapter.outbox.backoff import RetryPolicy
from adapter.outbox.dispatcher import Dispatcher, DispatcherOptions
from adapter.storage import MemoryStorage, SqlStorage, Storage, Vault, migrate
from his_connectors import parse_destinations
from sandbox.his import BackgroundHisMllp, HisState


def _patient(n: int) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "id": f"b{n}",
        "identifier": [
            {"system": "urn:oid:2.16.840.1.113883.2.23.1.19.1", "value": f"11010519900101{n:04d}"}
        ],
        "name": [{"family": "测", "given": ["试"], "text": "测试"}],
        "gender": "male",
        "birthDate": "1990-01-01",
    }


async def _backlog(storage: Storage, events: int, patients: int) -> None:
    async with storage.unit_of_work() as uow:
        for n in range(patients):
            await uow.resources.create(_patient(n))
    for start in range(0, events, 1000):
        async with storage.unit_of_work() as uow:
            for i in range(start, min(events, start + 1000)):
                key = f"Patient/b{i % patients}"
                await uow.outbox.add(
                    topic="patient.updated", destination="*", ordering_key=key, payload={"patient": key}
                )


class _HisProcess:
    """The simulated HIS in a child process; counts are asked for over a pipe."""

    def __init__(self, keep: int) -> None:
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(target=_his_main, args=(child, keep))
        self._process.start()
        self.port = int(self._pipe.recv())

    def accepted_keys(self, hospital: str) -> int:
        self._pipe.send(hospital)
        return int(self._pipe.recv())

    def stop(self) -> None:
        self._pipe.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def _his_main(pipe: Connection, keep: int) -> None:
    his = BackgroundHisMllp(HisState(keep=keep), "127.0.0.1", 0).start()
    pipe.send(his.port)
    while (hospital := pipe.recv()) is not None:
        pipe.send(his.server.state.accepted_keys(hospital))
    his.stop()


class _HisThread:
    def __init__(self, keep: int) -> None:
        self._his = BackgroundHisMllp(HisState(keep=keep), "127.0.0.1", 0).start()
        self.port = self._his.port

    def accepted_keys(self, hospital: str) -> int:
        return self._his.server.state.accepted_keys(hospital)

    def stop(self) -> None:
        self._his.stop()


async def run(
    events: int,
    hospitals: int,
    patients: int,
    concurrency: int,
    max_seconds: float,
    *,
    memory: bool = False,
    his_process: bool = False,
) -> None:
    keep = events * hospitals + 10
    his = _HisProcess(keep) if his_process else _HisThread(keep)
    codes = [f"H{n:04d}" for n in range(1, hospitals + 1)]
    config = parse_destinations(
        {
            "hospitals": {
                code: {
                    "destinations": [
                        {"name": "adt", "connector": "mllp", "endpoint": f"mllp://127.0.0.1:{his.port}"}
                    ]
                }
                for code in codes
            }
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite'}"
        storage: Storage
        if memory:
            storage = MemoryStorage()
        else:
            await migrate(url)
            storage = SqlStorage(url, Vault.generate())
        dispatcher = Dispatcher(
            storage,
            config,
            policy=RetryPolicy(max_attempts=100, base_s=0.05, max_s=1.0),
            options=DispatcherOptions(
                batch_size=500, concurrency=concurrency, lease_s=60, poll_interval_s=0.02
            ),
        )
        try:
            started = time.perf_counter()
            await _backlog(storage, events, patients)
            written = time.perf_counter() - started
            started, cpu_started = time.perf_counter(), time.process_time()
            await dispatcher.start()
            target = events
            while min(his.accepted_keys(c) for c in codes) < target:
                if time.perf_counter() - started > max_seconds:
                    break
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            delivered = sum(his.accepted_keys(c) for c in codes)
        finally:
            await dispatcher.stop()
            await storage.close()
            his.stop()
    print(
        f"backlog: {events} events x {hospitals} hospitals, {patients} patients (written in {written:.1f} s)"
    )
    complete = "complete" if delivered == events * hospitals else f"INCOMPLETE after {max_seconds:g} s"
    print(f"drained {delivered} deliveries in {elapsed:.2f} s ({complete})")
    print(
        f"  {delivered / elapsed:,.0f} deliveries/s to the simulated HIS over MLLP with ACK"
        f" ({'memory' if memory else 'SQLite'}, HIS {'in its own process' if his_process else 'on a thread'})"
    )
    print(f"  {delivered / hospitals / elapsed:,.0f} events/s (each to every hospital)")
    print(
        f"  CPU {cpu:.1f} s in this process for the drain"
        f" ({cpu / max(delivered, 1) * 1e6:,.0f} µs a delivery;"
        f" the simulated HIS {'not ' if his_process else ''}included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--hospitals", type=int, default=4)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--memory", action="store_true", help="the in-memory store instead of SQLite")
    parser.add_argument("--his-process", action="store_true", help="the simulated HIS in its own process")
    args = parser.parse_args()
    asyncio.run(
        run(
            args.events,
            args.hospitals,
            args.patients,
            args.concurrency,
            args.max_seconds,
            memory=args.memory,
            his_process=args.his_process,
        )
    )


if __name__ == "__main__":
    main()
