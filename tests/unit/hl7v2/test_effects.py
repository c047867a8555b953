"""The per-connection effects queue: strict order, bounded (put waits), drain, close, failures."""

from __future__ import annotations

import asyncio

import pytest

from adapter.hl7v2.effects import EffectsQueue


async def test_jobs_run_one_at_a_time_in_the_order_they_were_queued() -> None:
    queue, ran, running = EffectsQueue(8), [], []

    def job(n: int):  # type: ignore[no-untyped-def]
        async def run() -> None:
            running.append(n)
            assert len(running) == 1  # never two at once
            await asyncio.sleep(0.001 * (5 - n % 5))  # later jobs are quicker: order must still hold
            ran.append(n)
            running.remove(n)

        return run

    for n in range(20):
        await queue.put(job(n))
    await queue.drain()
    assert ran == list(range(20)) and queue.pending == 0
    await queue.close()


async def test_put_waits_while_the_queue_is_full() -> None:
    queue, gate = EffectsQueue(2), asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    await queue.put(blocked)  # taken by the worker: running
    await asyncio.sleep(0)
    await queue.put(blocked)
    await queue.put(blocked)  # two waiting: full
    assert queue.pending == 3
    third = asyncio.create_task(queue.put(blocked))
    await asyncio.sleep(0.01)
    assert not third.done()  # the caller (a connection) waits: it reads nothing more
    gate.set()
    await asyncio.wait_for(third, 1)
    await asyncio.wait_for(queue.drain(), 1)
    assert queue.pending == 0
    await queue.close()


async def test_a_failing_job_does_not_stop_the_ones_behind_it(caplog: pytest.LogCaptureFixture) -> None:
    queue, ran = EffectsQueue(4), []

    async def boom() -> None:
        text = "secret" + " message text"  # content arrives in variables, never in source lines
        raise RuntimeError(text)

    async def fine() -> None:
        ran.append("fine")

    await queue.put(boom)
    await queue.put(fine)
    await queue.drain()
    assert ran == ["fine"]
    assert "RuntimeError" in caplog.text and "secret message text" not in caplog.text
    await queue.close()


async def test_close_drops_jobs_not_run_and_drain_then_returns() -> None:
    queue, ran, gate = EffectsQueue(4), [], asyncio.Event()

    async def blocked() -> None:
        await gate.wait()
        ran.append("blocked")

    async def later() -> None:
        ran.append("later")

    await queue.put(blocked)
    await queue.put(later)
    await asyncio.sleep(0)
    await queue.close()
    await asyncio.wait_for(queue.drain(), 1)  # no worker: nothing to wait for
    assert ran == []


def test_a_queue_needs_room() -> None:
    with pytest.raises(ValueError, match="room"):
        EffectsQueue(0)
