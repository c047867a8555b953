"""`dualcode serve` with DUALCODE_HTTP_WORKERS=2, as a real process tree on loopback.

Shows: one banner for the whole service; HTTP requests on the one port are answered by both worker
processes (each /metrics names its pid in dualcode_worker_info); a token issued by one worker is
honoured by the other (shared keys and database); HL7 messages sent to the one MLLP port are ACKed
AA and stored; a worker killed with -9 is replaced; SIGTERM stops the supervisor and both workers
(no orphan) after their audit writers flushed the reads made just before it; and workers whose
supervisor is killed with -9 stop too (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from adapter.hl7v2 import frame
from tests.e2e.harness import start_service
from tests.unit.hl7v2.samples import adt

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT and /proc: Linux"),
]

BANNER = "dualcode is listening:"
PID_METRIC = re.compile(r'^dualcode_worker_info\{pid="(\d+)"\} 1\.0$', re.MULTILINE)
MESSAGES = 12


def parent_of(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    return int(re.search(r"^PPid:\s+(\d+)$", status, re.MULTILINE).group(1))  # type: ignore[union-attr]


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def metrics_pid(base_url: str) -> str:
    # A new connection each time (no keep-alive), so the kernel picks the worker anew.
    text = httpx.get(f"{base_url}/metrics", headers={"Connection": "close"}, timeout=10).text
    found = PID_METRIC.findall(text)
    assert len(found) == 1, text[:500]
    return str(found[0])


def send_adt(port: int, n: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        message = adt(f"WORKERS{n:03d}", patient=f"WP{n:03d}", family=f"FAMILY{n}").encode()
        sock.sendall(frame(message))
        answer = b""
        while not answer.endswith(b"\x1c\r"):
            chunk = sock.recv(65536)
            assert chunk, "the MLLP connection closed before the ACK"
            answer += chunk
    return answer


def test_two_workers_share_the_ports_and_stop_together(tmp_path: Path) -> None:
    service = start_service(tmp_path, {"DUALCODE_HTTP_WORKERS": "2"})
    try:
        output = service.wait_for_output(BANNER)
        match = re.search(r"workers\s+2 processes \(pids (\d+) (\d+)\)", output)
        assert match, output[-2000:]
        workers = {int(match.group(1)), int(match.group(2))}
        assert len(workers) == 2
        assert {parent_of(pid) for pid in workers} == {service.process.pid}
        assert output.count(BANNER) == 1

        # Both processes answer on the one HTTP port.
        seen: set[str] = set()
        with ThreadPoolExecutor(8) as pool:
            for _ in range(25):
                seen.update(pool.map(lambda _: metrics_pid(service.base_url), range(16)))
                if len(seen) == 2:
                    break
        assert seen == {str(pid) for pid in workers}

        # One database and one set of keys: a token from one worker works on the other.
        token = service.token("admin", name="workers-admin")
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{service.fhir_base}/Patient",
            json={"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": "W1"}]},
            headers={**auth, "Content-Type": "application/fhir+json"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        patient_id = created.json()["id"]

        # HL7 on the one MLLP port, a connection per message so both workers take some.
        with ThreadPoolExecutor(4) as pool:
            acks = list(pool.map(lambda n: send_adt(service.mllp_port, n), range(MESSAGES)))
        assert all(b"MSA|AA|WORKERS" in ack for ack in acks), acks
        stored = httpx.get(
            f"{service.base_url}/api/messages",
            params={"limit": 100, "sender": "HIS^H001"},
            headers=auth,
            timeout=10,
        ).json()["messages"]
        assert {m["control_id"]: m["status"] for m in stored} == {
            f"WORKERS{n:03d}": "processed" for n in range(MESSAGES)
        }

        # A worker that crashes is replaced; the service keeps answering meanwhile.
        crashed = min(workers)
        os.kill(crashed, signal.SIGKILL)
        deadline = time.monotonic() + 90
        answered: set[int] = set()
        while not answered - workers:
            assert time.monotonic() < deadline, "the crashed worker was not replaced"
            answered.add(int(metrics_pid(service.base_url)))  # transport errors would fail the test
        assert not alive(crashed) and crashed not in answered
        replacement = answered - workers
        assert len(replacement) == 1 and parent_of(replacement.pop()) == service.process.pid
        workers = (workers - {crashed}) | (answered - workers)

        # Reads right before SIGTERM: their audit records are batched, so each worker must flush.
        def read(_: int) -> int:
            url = f"{service.fhir_base}/Patient/{patient_id}"
            return httpx.get(url, headers={**auth, "Connection": "close"}, timeout=10).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(read, range(40))) == {200}

        tree = children_of(service.process.pid)  # the workers and multiprocessing's resource tracker
        assert workers <= tree
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=45) == 0
        deadline = time.monotonic() + 5
        while [pid for pid in tree if alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in tree if alive(pid)], "a process outlived the supervisor"
    finally:
        service.stop()

    again = start_service(tmp_path)  # one worker, same data directory
    try:
        events = httpx.get(
            f"{again.fhir_base}/AuditEvent",
            params={"patient": patient_id, "_count": 200},
            headers={"Authorization": f"Bearer {again.token('admin', name='workers-audit')}"},
            timeout=10,
        ).json()
        reads = [e for e in events.get("entry", []) if e["resource"]["action"] == "R"]
        assert len(reads) >= 40
    finally:
        again.stop()


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    service = start_service(tmp_path, {"DUALCODE_HTTP_WORKERS": "2"})
    try:
        output = service.wait_for_output(BANNER)
        match = re.search(r"workers\s+2 processes \(pids (\d+) (\d+)\)", output)
        assert match, output[-2000:]
        workers = {int(match.group(1)), int(match.group(2))}
        assert all(alive(pid) for pid in workers)
        service.process.send_signal(signal.SIGKILL)  # no chance to stop its workers itself
        service.process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if alive(pid)], "a worker outlived its supervisor"
    finally:
        service.stop()
