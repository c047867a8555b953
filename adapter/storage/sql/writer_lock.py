"""One SQLite writer at a time across processes, woken as soon as the previous one is done.

SQLite's own write lock is the guard, but a process that finds it taken learns nothing of when it
is free: it can only try again (``sqlite_loop`` sleeps 1, 2, 4 … up to 50 ms between tries, so as
not to block its event loop). With two worker processes writing all the time (sampling points
scanning), most tries failed and each failure cost a sleep: two workers on one SQLite file
registered fewer scans than one, with a p99 of ~400 ms.

So a process takes an advisory ``flock`` on a file beside the database (``<database>-writer.lock``)
before BEGIN IMMEDIATE and lets it go after COMMIT or ROLLBACK. Uncontended, that is one system
call. Contended, a waiting thread (one per lock, started at the first contention) blocks in
``flock`` and the kernel wakes it the moment the holder lets go; the event loop only waits for
that thread. Nothing depends on the file for
correctness: a process that does not take it (the sqlite3 shell, an older version) still meets
SQLite's lock and the retries, and a wait that lasts longer than the busy timeout is given up (the
caller then tries SQLite's lock as before and answers 503 if it stays busy).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

_Wait = tuple["_Claim", Callable[[], None]]  # what to take, and whom to tell once it is decided


class WriterLock:
    """The writers' turn across processes, for one database file (``None``: in memory, no-op).
    One holder per process at a time (the caller serialises its writers)."""

    def __init__(self, database: Path | None) -> None:
        self._path = None if database is None else database.with_name(database.name + "-writer.lock")
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd: a forked child opens its own
        self._held = False
        self._waits: queue.SimpleQueue[_Wait | None] | None = None

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(self, timeout_s: float) -> None:
        """Take the turn, waiting at most ``timeout_s``; afterwards ``held`` says whether it was."""
        fd = self._descriptor()
        if fd is None or self._held:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._held = await _wait_for(fd, self._waiter(fd), timeout_s)
        else:
            self._held = True

    def release(self) -> None:
        if self._held and self._fd is not None:
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        if self._waits is not None:
            self._waits.put(None)  # the waiting thread ends after the waits before it
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd, self._waits = None, None

    def _descriptor(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid, self._held, self._waits = os.getpid(), False, None
        return self._fd

    def _waiter(self, fd: int) -> queue.SimpleQueue[_Wait | None]:
        """The waiting thread's queue: a daemon thread (a wait still blocked at exit must not hold
        the process), reused, since starting one per wait cost more than the wait's own work."""
        if self._waits is None:
            self._waits = queue.SimpleQueue()
            threading.Thread(
                target=_wait_in_turn, args=(fd, self._waits), name="sqlite-writer-lock", daemon=True
            ).start()
        return self._waits


def _wait_in_turn(fd: int, waits: queue.SimpleQueue[_Wait | None]) -> None:
    while (wait := waits.get()) is not None:
        claim, settle = wait
        claim.take(fd)
        settle()


class _Claim:
    """A blocking wait in a thread, which the waiting task may abandon: whoever decides second
    (the thread that got the lock, or the task that gave up) sees what the first decided."""

    def __init__(self) -> None:
        self._decided = threading.Lock()
        self.acquired = False
        self.abandoned = False

    def take(self, fd: int) -> None:  # in the thread
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # the descriptor was closed meanwhile: not taken
            return
        with self._decided:
            if self.abandoned:
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:
                self.acquired = True

    def give_up(self) -> bool:
        """True when the lock was not taken (and now will not be kept)."""
        with self._decided:
            self.abandoned = not self.acquired
            return self.abandoned


async def _wait_for(fd: int, waits: queue.SimpleQueue[_Wait | None], timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    claim = _Claim()

    def settle() -> None:  # in the waiting thread
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(_settle, done)

    waits.put((claim, settle))
    try:
        await asyncio.wait_for(asyncio.shield(done), timeout_s)
    except TimeoutError:
        return not claim.give_up()
    except BaseException:
        if not claim.give_up():  # taken just as the task was cancelled: let it go again
            fcntl.flock(fd, fcntl.LOCK_UN)
        raise
    return claim.acquired


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
