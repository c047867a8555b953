"""Keyed locks serialise one key and leave others free; the per-patient key comes from PID-3."""

from __future__ import annotations

import asyncio

from adapter.hl7v2.handlers import patient_key
from adapter.hl7v2.locks import KeyedLocks
from adapter.hl7v2.msh import read_msh
from adapter.hl7v2.router import MessageContext
from adapter.hl7v2.senders import SenderConfig
from tests.unit.hl7v2.samples import adt


async def test_one_key_at_a_time_other_keys_in_parallel() -> None:
    locks, log = KeyedLocks(), []

    async def work(key: str, name: str) -> None:
        async with locks.hold(key):
            log.append(f"start {name}")
            await asyncio.sleep(0.01)
            log.append(f"end {name}")

    await asyncio.gather(work("p1", "a"), work("p1", "b"), work("p2", "c"))
    assert log.index("end a") < log.index("start b")  # same patient: one after the other
    assert log.index("start c") < log.index("end a")  # another patient did not wait
    assert len(locks) == 0  # nothing left behind


async def test_none_holds_nothing_and_a_failure_releases() -> None:
    locks = KeyedLocks()
    async with locks.hold(None):
        assert len(locks) == 0
    try:
        async with locks.hold("k"):
            raise ValueError("x")
    except ValueError:
        pass
    assert len(locks) == 0
    async with asyncio.timeout(1):
        async with locks.hold("k"):
            pass


def _context(text: str) -> MessageContext:
    msh = read_msh(text.encode())
    return MessageContext("m1", "HIS^H001", msh, text.encode(), text, SenderConfig("HIS^H001", "utf-8"))


def test_patient_key_is_pid_3_within_its_authority() -> None:
    text = adt("C1", patient="P9")
    assert patient_key(_context(text)) == "H001|P9"
    assert patient_key(_context(text.replace("P9^^^H001^MR", "P9"))) == "HIS^H001|P9"
    assert patient_key(_context(text.split("\r")[0] + "\r")) is None
    assert patient_key(_context(text.replace("P9^^^H001^MR", ""))) is None
