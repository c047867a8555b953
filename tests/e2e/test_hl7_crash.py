"""Crash test: kill -9 `dualcode serve` (SQLite) while a client streams ADT messages, restart it on
the same data directory, and show that every message acknowledged AA is stored with its effects and
that no message ran twice, even when the client sends everything again.

Each message registers a different patient (ADT^A04), so a message executed twice would show as a
Patient with a second version. Bounded: 200 messages, a window of 8 in flight, loopback only.
"""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest

from adapter.hl7v2 import frame
from tests.e2e.harness import RunningService, start_service
from tests.unit.hl7v2.samples import adt

pytestmark = pytest.mark.e2e

COUNT, WINDOW, KILL_AFTER = 200, 8, 70
FS_CR = b"\x1c\r"


def message(n: int) -> bytes:
    return adt(f"CRASH{n:04d}", patient=f"CP{n:04d}", family=f"FAMILY{n}").encode()


def stream(port: int, numbers: list[int], *, kill: RunningService | None = None) -> dict[str, bytes]:
    """Send with up to WINDOW frames in flight; return the ACKs received by control id. With ``kill``,
    the server gets SIGKILL once KILL_AFTER ACKs are in, and the stream ends when the socket does."""
    acks: dict[str, bytes] = {}
    pending = list(numbers)
    in_flight = 0
    buffer = b""
    killer: threading.Timer | None = None
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        try:
            while pending or in_flight:
                while pending and in_flight < WINDOW:
                    sock.sendall(frame(message(pending.pop(0))))
                    in_flight += 1
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while FS_CR in buffer:
                    block, buffer = buffer.split(FS_CR, 1)
                    ack = block.lstrip(b"\x0b")
                    msa = next(s for s in ack.split(b"\r") if s.startswith(b"MSA")).split(b"|")
                    acks[msa[2].decode()] = ack
                    in_flight -= 1
                if kill is not None and len(acks) >= KILL_AFTER and killer is None:
                    # From another thread a moment later, so it lands while the server is mid-work
                    # (between storing a message and committing its effects), not just after an ACK.
                    killer = threading.Timer(0.003, kill.process.send_signal, (signal.SIGKILL,))
                    killer.start()
        except (ConnectionError, TimeoutError):
            pass  # the server died under us: what was not acknowledged is simply not acknowledged
    if killer is not None:
        killer.join()
    return acks


def messages(service: RunningService, token: str) -> dict[str, dict[str, object]]:
    answer = httpx.get(
        f"{service.base_url}/api/messages",
        params={"limit": 500, "sender": "HIS^H001"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    answer.raise_for_status()
    return {m["control_id"]: m for m in answer.json()["messages"]}


def patient_version(service: RunningService, token: str, patient_id: str) -> str:
    answer = httpx.get(
        f"{service.fhir_base}/Patient/{patient_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    answer.raise_for_status()
    version: str = answer.json()["meta"]["versionId"]
    return version


def test_acked_messages_survive_kill_9_and_nothing_runs_twice(tmp_path: Path) -> None:
    first = start_service(tmp_path)
    try:
        acked = stream(first.mllp_port, list(range(COUNT)), kill=first)
        first.process.wait(timeout=15)
    finally:
        first.stop()
    assert first.process.returncode == -signal.SIGKILL
    accepted = {cid: ack for cid, ack in acked.items() if b"|AA|" in ack}
    assert KILL_AFTER <= len(accepted) < COUNT, "the kill must land mid-stream"

    second = start_service(tmp_path)  # same data directory, same SQLite file and keys
    try:
        token = second.token("admin", name="crash-admin")
        stored = messages(second, token)
        for cid in accepted:  # every AA: stored, processed, with its Patient at version 1
            assert stored[cid]["status"] == "processed", cid
            assert stored[cid]["resources"][0] == f"Patient/{stored[cid]['patient_id']}/_history/1"
        assert all(m["status"] in ("processed", "received") for m in stored.values())

        again = stream(second.mllp_port, list(range(COUNT)))  # the client resends everything
        assert sorted(again) == sorted(f"CRASH{n:04d}" for n in range(COUNT))
        for cid, ack in accepted.items():
            assert again[cid] == ack  # a duplicate gets the very ACK it had before
        assert all(b"|AA|" in ack for ack in again.values())

        final = messages(second, token)
        assert len(final) == COUNT and {m["status"] for m in final.values()} == {"processed"}
        patients = {str(m["patient_id"]) for m in final.values()}
        assert len(patients) == COUNT
        assert {patient_version(second, token, p) for p in patients} == {"1"}  # none ran twice
    finally:
        second.stop()
