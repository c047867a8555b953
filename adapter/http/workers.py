"""`dualcode serve` with several worker processes (``DUALCODE_HTTP_WORKERS`` > 1).

The parent process is only a supervisor, built on uvicorn's own multi-process supervisor:

- before any worker starts it does what must happen once: creates missing key files, applies the
  migrations, binds the HTTP socket (shared by every worker: one accept queue) and reserves the MLLP
  port (so ``mllp_port=0`` resolves to one port for all; each worker then binds it with
  SO_REUSEPORT, see ``MllpServer``);
- it starts N workers (spawned, not forked: nothing of the parent's state is inherited but the
  socket), each running the full app lifespan with settings that forbid it to migrate or create
  keys; prints the "dualcode is listening" banner once, when every worker is serving;
- it pings the workers; one that died or hangs is replaced (uvicorn's supervisor); one that failed to
  start stops the service (it would fail the same way again);
- on SIGTERM or Ctrl-C it sends SIGTERM to every worker, which shuts down like a single process does
  (MLLP in-flight frames finish, audit writer flushes, database closes), waits up to
  ``STOP_TIMEOUT_S`` in all, kills what is left, and exits. A worker whose supervisor vanishes
  (killed with -9) receives SIGTERM from the kernel (Linux PR_SET_PDEATHSIG): no orphans.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from uvicorn import Config
from uvicorn.supervisors.multiprocess import Multiprocess

if TYPE_CHECKING:
    from fastapi import FastAPI

    from adapter.settings import Settings

log = logging.getLogger("dualcode.workers")
STOP_TIMEOUT_S = 30.0  # for all workers, after SIGTERM: MLLP grace (10 s) and graceful HTTP shutdown fit
_PR_SET_PDEATHSIG = 1


class WorkerSetupError(Exception):
    """The settings cannot run several workers (e.g. an in-memory database)."""


def prepare(settings: Settings) -> tuple[Settings, socket.socket | None]:
    """Once, in the supervisor: keys, migrations, the MLLP port. Returns the workers' settings and
    the MLLP reservation socket (kept open while the service runs)."""
    from adapter.storage import MEMORY_URL, migrate
    from adapter.storage.keys import load_token_signing_key, load_vault

    if settings.database_url == MEMORY_URL:
        raise WorkerSetupError("several workers need a database they share: not the in-memory one")
    load_vault(settings)  # creates the key files when missing and allowed, before any worker reads them
    load_token_signing_key(settings)
    if settings.auto_migrate:
        from adapter.mpi.import_pipeline import merge_pending_tokens_of

        asyncio.run(migrate(settings.database_url))
        asyncio.run(merge_pending_tokens_of(settings))  # an interrupted import's people: searchable
    reservation = None
    mllp_port = settings.mllp_port
    if settings.mllp_enabled:
        if not hasattr(socket, "SO_REUSEPORT"):
            raise WorkerSetupError("the workers share the MLLP port with SO_REUSEPORT, missing here")
        try:
            reservation, mllp_port = _reserve_port(settings.mllp_host, settings.mllp_port)
        except OSError as error:
            raise WorkerSetupError(
                f"cannot listen for MLLP on {settings.mllp_host}:{settings.mllp_port}: {error.strerror}"
            ) from None
    worker_settings = settings.model_copy(
        update={"auto_migrate": False, "create_missing_keys": False, "mllp_port": mllp_port}
    )
    return worker_settings, reservation


def _reserve_port(host: str, port: int) -> tuple[socket.socket, int]:
    """Check the port is free (a plain bind fails if anyone listens on it), resolve port 0, and hold
    the port with a bound, never-listening SO_REUSEPORT socket: the workers' listening sockets join
    it, and the kernel only hands connections to listening sockets."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = int(probe.getsockname()[1])
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, port))
    return holder, port


def worker_app(settings: Settings, supervisor_pid: int) -> FastAPI:
    """The app factory each worker calls (uvicorn ``factory=True``), in the worker process."""
    from adapter.app import create_app
    from adapter.security.logging import configure_logging

    _die_with_parent(supervisor_pid)
    configure_logging(settings.log_level, log_raw_hl7=settings.log_raw_hl7)
    return create_app(settings)


def _die_with_parent(supervisor_pid: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != supervisor_pid:  # the supervisor died before we asked (it may be pid 1)
            os.kill(os.getpid(), signal.SIGTERM)


class _Supervisor(Multiprocess):
    def __init__(self, config: Config, sockets: list[socket.socket], on_ready: Callable[[list[int]], None]):
        super().__init__(config, sockets)
        self._on_ready: Callable[[list[int]], None] | None = on_ready
        self.stopped_by_signal = False

    def handle_int(self) -> None:
        self.stopped_by_signal = True
        super().handle_int()

    def handle_term(self) -> None:
        self.stopped_by_signal = True
        super().handle_term()

    @property
    def failed(self) -> bool:
        """Stopped without being asked: a worker failed to start."""
        return not self.stopped_by_signal

    def run(self) -> None:
        log.info("supervisor %d starting %d workers", os.getpid(), self.processes_num)
        self.init_processes()
        while not self.should_exit.wait(0.5):
            self.handle_signals()
            self.keep_subprocess_alive()
            if self._on_ready is not None and not self.should_exit.is_set():
                if all(process.is_ready(timeout=1) for process in self.processes):
                    self._on_ready([process.pid or 0 for process in self.processes])
                    self._on_ready = None
        self.terminate_all()
        self.join_all()
        log.info("supervisor %d stopped", os.getpid())

    def join_all(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes:
            process.process.join(max(0.0, deadline - time.monotonic()))
            if process.process.exitcode is None:
                log.warning("worker %s did not stop in %.0fs: killed", process.pid, STOP_TIMEOUT_S)
                process.kill()
                process.process.join(5)


def run_workers(settings: Settings, on_ready: Callable[[Settings, list[int]], None]) -> int:
    """Serve with ``settings.http_workers`` processes until SIGTERM/SIGINT. Returns the exit status."""
    worker_settings, reservation = prepare(settings)
    try:
        config = _config(worker_settings)
        http_socket = config.bind_socket()  # exits with uvicorn's STARTUP_FAILURE when the port is taken
        try:
            worker_settings = worker_settings.model_copy(update={"http_port": http_socket.getsockname()[1]})
            config = _config(worker_settings)  # port 0 resolved: the workers and the banner agree
            supervisor = _Supervisor(config, [http_socket], functools.partial(on_ready, worker_settings))
            supervisor.run()
        finally:
            http_socket.close()
    finally:
        if reservation is not None:
            reservation.close()
    return 1 if supervisor.failed else 0


def _config(settings: Settings) -> Config:
    return Config(
        functools.partial(worker_app, settings, os.getpid()),
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
