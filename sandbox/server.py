"""Run the SIMULATOR under uvicorn: in the foreground (the CLI), or in a background thread on a free
port (tests and demos that need the platforms over real HTTP)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from types import TracebackType

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig


def uvicorn_config(config: SandboxConfig, *, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level=log_level,
        lifespan="off",
        ws="none",  # no websockets: nothing here needs them
        access_log=False,
    )


def serve(config: SandboxConfig) -> None:
    """Serve in the foreground until interrupted."""
    print(
        f"dualcode sandbox: SIMULATOR of the eSSC, EHC and NHSA platforms on http://{config.host}:{config.port}"
        f" (seed {config.seed}, synthetic people only)",
        flush=True,
    )
    uvicorn.Server(uvicorn_config(config)).run()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class BackgroundSandbox:
    """The sandbox in a thread of this process: `with BackgroundSandbox(config) as sandbox: sandbox.url`.

    Port 0 in the config means a free port. Stopping waits for uvicorn's own shutdown, so no socket
    is left open (pytest's filterwarnings=error would see a ResourceWarning)."""

    def __init__(self, config: SandboxConfig | None = None, *, start_timeout_s: float = 10.0) -> None:
        config = config or SandboxConfig()
        if config.port == 0:
            config = replace(config, port=free_port(config.host))
        self.config = config
        self.url = f"http://{config.host}:{config.port}"
        self._server = uvicorn.Server(uvicorn_config(config, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="dualcode-sandbox", daemon=True)
        self._start_timeout_s = start_timeout_s

    def start(self) -> BackgroundSandbox:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=self._start_timeout_s)

    def __enter__(self) -> BackgroundSandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
