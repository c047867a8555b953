"""Start `dualcode serve` as a real process on free loopback ports, with its own data directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningService:
    base_url: str
    mllp_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "dualcode"), *args], env=self.env, capture_output=True, timeout=60, check=True
        )
        return done.stdout.decode()

    def add_client(self, name: str, roles: str) -> tuple[str, str]:
        created = json.loads(self.cli("clients", "add", name, "--roles", roles, "--json"))
        return created["client_id"], created["client_secret"]

    def token(self, roles: str, name: str = "test-client") -> str:
        client_id, secret = self.add_client(name, roles)
        answer = httpx.post(
            f"{self.base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=10,
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token

    def wait_for_output(self, text: str, timeout_s: float = 60.0) -> str:
        """The service's output so far, once it contains ``text`` (e.g. the "dualcode is listening"
        banner, which a multi-worker service prints once every worker serves)."""
        deadline = time.monotonic() + timeout_s
        while True:
            output = self.log_path.read_text(errors="replace")
            if text in output:
                return output
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no {text!r} from dualcode serve:\n{output[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_service(data_dir: Path, extra_env: dict[str, str] | None = None) -> RunningService:
    http_port, mllp_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DUALCODE_")}
    env.update(
        {
            "DUALCODE_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir}/dualcode.sqlite",
            "DUALCODE_DATA_DIR": str(data_dir),
            "DUALCODE_DATA_KEYS_FILE": str(data_dir / "keys" / "data-keys.json"),
            "DUALCODE_BLIND_INDEX_KEY_FILE": str(data_dir / "keys" / "blind-index.key"),
            "DUALCODE_TOKEN_SIGNING_KEY_FILE": str(data_dir / "keys" / "token-signing.key"),
            "DUALCODE_HTTP_PORT": str(http_port),
            "DUALCODE_MLLP_PORT": str(mllp_port),
            "DUALCODE_MAX_BODY_BYTES": "65536",
        }
    )
    env.update(extra_env or {})
    log_path = data_dir / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "dualcode"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    service = RunningService(f"http://127.0.0.1:{http_port}", mllp_port, env, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dualcode serve exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{service.base_url}/healthz", timeout=1).status_code == 200:
                return service
        except httpx.TransportError:
            time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"dualcode serve did not become healthy:\n{log_path.read_text()[-3000:]}")


@dataclass
class RunningSandbox:
    """The `dualcode sandbox` SIMULATOR of the card platforms, as a real process."""

    base_url: str
    process: subprocess.Popen[bytes]

    def people(self, limit: int = 10) -> list[dict[str, object]]:
        answer = httpx.get(f"{self.base_url}/sandbox/people", params={"limit": limit}, timeout=10)
        answer.raise_for_status()
        body = answer.json()
        people: list[dict[str, object]] = body["people"] if isinstance(body, dict) else body
        return people

    def issue(self, kind: str, id_number: str, **extra: object) -> str:
        answer = httpx.post(
            f"{self.base_url}/sandbox/codes", json={"kind": kind, "id_number": id_number, **extra}, timeout=10
        )
        answer.raise_for_status()
        code: str = answer.json()["code"]
        return code

    def control(self, path: str, body: dict[str, object]) -> None:
        httpx.post(f"{self.base_url}/sandbox/{path}", json=body, timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_sandbox(log_path: Path, *args: str) -> RunningSandbox:
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "dualcode"), "sandbox", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    sandbox = RunningSandbox(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dualcode sandbox exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if (
                httpx.get(f"{sandbox.base_url}/sandbox/people", params={"limit": 1}, timeout=1).status_code
                == 200
            ):
                return sandbox
        except httpx.TransportError:
            time.sleep(0.1)
    sandbox.stop()
    raise RuntimeError("dualcode sandbox did not answer")


def sandbox_env(sandbox: RunningSandbox) -> dict[str, str]:
    """Settings that point the service's card platform clients at a running sandbox."""
    return {
        "DUALCODE_CARDS_ESSC_BASE_URL": f"{sandbox.base_url}/essc",
        "DUALCODE_CARDS_EHC_BASE_URL": f"{sandbox.base_url}/ehc",
        "DUALCODE_CARDS_NHSA_BASE_URL": f"{sandbox.base_url}/nhsa",
    }
