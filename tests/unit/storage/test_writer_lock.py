"""The writers' turn across processes (an flock beside the SQLite file): taken at once when free,
the next holder woken when the previous lets go, a wait given up (or cancelled) never keeps it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapter.storage.sql.writer_lock import WriterLock

# Two WriterLocks open the file separately: flock treats them as two processes would be treated.


async def test_a_free_turn_is_taken_at_once_and_the_next_waits_for_it(tmp_path: Path) -> None:
    first, second = WriterLock(tmp_path / "db.sqlite"), WriterLock(tmp_path / "db.sqlite")
    await first.acquire(1.0)
    assert first.held and (tmp_path / "db.sqlite-writer.lock").exists()
    waiting = asyncio.create_task(second.acquire(5.0))
    await asyncio.sleep(0.1)
    assert not waiting.done() and not second.held
    first.release()
    await asyncio.wait_for(waiting, 2.0)
    assert second.held and not first.held
    second.release()
    await first.acquire(0.01)
    assert first.held  # free again
    first.close()
    second.close()


async def test_a_wait_given_up_does_not_keep_the_turn_when_it_comes(tmp_path: Path) -> None:
    holder, late = WriterLock(tmp_path / "db.sqlite"), WriterLock(tmp_path / "db.sqlite")
    await holder.acquire(1.0)
    await late.acquire(0.05)
    assert not late.held  # timed out: the caller goes on to SQLite's own lock
    holder.release()
    await asyncio.sleep(0.1)  # the abandoned wait takes the lock and lets it go at once
    third = WriterLock(tmp_path / "db.sqlite")
    await third.acquire(0.5)
    assert third.held
    for lock in (holder, late, third):
        lock.close()


async def test_a_cancelled_wait_does_not_keep_the_turn(tmp_path: Path) -> None:
    holder, cancelled = WriterLock(tmp_path / "db.sqlite"), WriterLock(tmp_path / "db.sqlite")
    await holder.acquire(1.0)
    waiting = asyncio.create_task(cancelled.acquire(5.0))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    holder.release()
    await asyncio.sleep(0.1)
    await holder.acquire(0.5)
    assert holder.held and not cancelled.held
    holder.close()
    cancelled.close()


async def test_in_memory_there_is_no_turn_to_take() -> None:
    lock = WriterLock(None)
    await lock.acquire(0.01)
    assert not lock.held
    lock.release()
    lock.close()


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
fcntl.flock(fd, fcntl.LOCK_UN)
time.sleep(5)
"""


def test_another_process_holding_the_turn_is_waited_for_and_its_release_wakes_us(tmp_path: Path) -> None:
    lock_file = tmp_path / "db.sqlite-writer.lock"
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_file), "0.4"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        lock = WriterLock(tmp_path / "db.sqlite")
        started = time.monotonic()
        asyncio.run(lock.acquire(10.0))
        waited = time.monotonic() - started
        assert lock.held and 0.2 < waited < 5.0  # woken by the release, not by the timeout
        lock.close()
    finally:
        other.kill()
        other.communicate()
