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


def enhanced_message(n: int) -> bytes:
    return adt(
        f"ENH{n:04d}", patient=f"EP{n:04d}", family=f"FAMILY{n}", accept="AL", application_ack="AL"
    ).encode()


def stream(
    port: int, numbers: list[int], *, kill: RunningService | None = None, enhanced: bool = False
) -> dict[str, list[bytes]]:
    """Send with up to WINDOW frames in flight; return the ACKs received by control id. With ``kill``,
    the server gets SIGKILL once KILL_AFTER ACKs are in, and the stream ends when the socket does.
    ``enhanced`` (MSH-15/16 AL): a frame is in flight until its CA (KILL_AFTER counts CAs), and the
    stream goes on until every CA'd frame has its application ACK too."""
    acks: dict[str, list[bytes]] = {}
    pending = list(numbers)
    in_flight = behind = answered = 0
    buffer = b""
    killer: threading.Timer | None = None
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        try:
            while pending or in_flight or behind:
                while pending and in_flight < WINDOW:
                    sock.sendall(frame((enhanced_message if enhanced else message)(pending.pop(0))))
                    in_flight += 1
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while FS_CR in buffer:
                    block, buffer = buffer.split(FS_CR, 1)
                    ack = block.lstrip(b"\x0b")
                    msa = next(s for s in ack.split(b"\r") if s.startswith(b"MSA")).split(b"|")
                    acks.setdefault(msa[2].decode(), []).append(ack)
                    if not enhanced or msa[1] == b"CA":
                        in_flight -= 1
                        answered += 1
                        behind += enhanced
                    else:
                        behind -= 1
                if kill is not None and answered >= KILL_AFTER and killer is None:
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
        acked = {
            cid: acks[0] for cid, acks in stream(first.mllp_port, list(range(COUNT)), kill=first).items()
        }
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

        again = {cid: acks[0] for cid, acks in stream(second.mllp_port, list(range(COUNT))).items()}
        assert sorted(again) == sorted(f"CRASH{n:04d}" for n in range(COUNT))  # the client resent all
        for cid, ack in accepted.items():
            assert again[cid] == ack  # a duplicate gets the very ACK it had before
        assert all(b"|AA|" in ack for ack in again.values())

        each_ran_once(second, token, "CRASH")
    finally:
        second.stop()


def test_enhanced_mode_messages_answered_ca_run_after_kill_9_once(tmp_path: Path) -> None:
    first = start_service(tmp_path)
    try:
        got = stream(first.mllp_port, list(range(COUNT)), kill=first, enhanced=True)
        first.process.wait(timeout=15)
    finally:
        first.stop()
    assert first.process.returncode == -signal.SIGKILL
    codes = {cid: [ack.split(b"MSA|")[1][:2] for ack in acks] for cid, acks in got.items()}
    committed = {cid for cid, sent in codes.items() if b"CA" in sent}
    behind = {cid for cid in committed if b"AA" not in codes[cid]}
    assert KILL_AFTER <= len(committed) < COUNT, "the kill must land mid-stream"
    assert behind, "some CA'd messages must still have had their effects queued at the kill"

    second = start_service(tmp_path)  # the start runs what was CA'd but not processed
    try:
        token = second.token("admin", name="crash-admin")
        stored = messages_of(second, token, "ENH")
        for cid in committed:  # every CA: processed with its Patient at version 1, before any resend
            assert stored[cid]["status"] == "processed", cid
            assert stored[cid]["resources"][0] == f"Patient/{stored[cid]['patient_id']}/_history/1"

        again = stream(second.mllp_port, list(range(COUNT)), enhanced=True)  # the client resends all
        assert sorted(again) == sorted(f"ENH{n:04d}" for n in range(COUNT))
        assert all(
            sorted(ack.split(b"MSA|")[1][:2] for ack in acks) == [b"AA", b"CA"] for acks in again.values()
        )

        each_ran_once(second, token, "ENH")
    finally:
        second.stop()


def messages_of(service: RunningService, token: str, prefix: str) -> dict[str, dict[str, object]]:
    return {cid: m for cid, m in messages(service, token).items() if cid.startswith(prefix)}


def each_ran_once(service: RunningService, token: str, prefix: str) -> None:
    """All COUNT messages processed, each its own Patient, every Patient at version 1."""
    final = messages_of(service, token, prefix)
    assert len(final) == COUNT and {m["status"] for m in final.values()} == {"processed"}
    patients = {str(m["patient_id"]) for m in final.values()}
    assert len(patients) == COUNT
    assert {patient_version(service, token, p) for p in patients} == {"1"}  # none ran twice
