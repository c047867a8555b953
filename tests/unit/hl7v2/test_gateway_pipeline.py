"""Enhanced mode behind a connection: CA once stored, the effects in the connection's queue (in
order, bounded), the application ACK after them; original mode waits for them; recovery at start."""

from __future__ import annotations

import asyncio

from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.effects import EffectsQueue, Job
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.handler import Peer
from adapter.hl7v2.handlers import AdtHandler
from adapter.hl7v2.router import Binding, BindingTable, HandlerResult, MessageContext
from adapter.hl7v2.senders import SenderTable
from adapter.mpi import PatientIndex
from adapter.security.audit import Auditor
from adapter.storage import MemoryStorage
from adapter.storage.ports import UnitOfWork
from tests.unit.hl7v2.samples import adt, msa

adt_patient = AdtHandler(PatientIndex())


class GatedQueue(EffectsQueue):
    """An effects queue whose jobs start only once ``open`` is set (the in-memory store runs one
    unit of work at a time, so the hold must come before the job's unit, not inside the handler)."""

    def __init__(self, limit: int, open_: asyncio.Event) -> None:
        super().__init__(limit)
        self.open = open_

    async def put(self, job: Job) -> None:
        async def gated() -> None:
            await self.open.wait()
            await job()

        await super().put(gated)


class Line:
    """A connection: what was sent on it, in order, and its effects queue (held until ``open``)."""

    def __init__(self, limit: int = 8, *, held: bool = False) -> None:
        self.open = asyncio.Event()
        if not held:
            self.open.set()
        self.sent: list[tuple[str, str]] = []
        self.effects = GatedQueue(limit, self.open)
        self.peer = Peer("127.0.0.1", 40000, send=self._send, effects=self.effects)

    async def _send(self, message: bytes) -> None:
        self.sent.append(msa(message))


class Gate:
    """The ADT handler, recording the control ids it ran, in order."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        self.ran.append(context.msh.control_id)
        return await adt_patient(context, uow)


def gateway(storage: MemoryStorage, gate: Gate | None = None) -> Gateway:
    table = BindingTable([Binding(gate, "gated", message_type="ADT")]) if gate else default_bindings()
    return Gateway(storage, table, senders=SenderTable(), auditor=Auditor())


async def status(storage: MemoryStorage, control_id: str) -> str:
    async with storage.unit_of_work() as uow:
        found = await uow.messages.find("HIS^H001", control_id)
    assert found is not None
    return found.status


async def patient_versions(storage: MemoryStorage) -> list[int]:
    async with storage.unit_of_work() as uow:
        return sorted(p.version_id for p in await uow.resources.search("Patient", []))


def enhanced(control_id: str, **fields: str) -> bytes:
    return adt(control_id, accept="AL", application_ack="AL", **fields).encode()


async def test_the_connection_goes_on_while_the_effects_run_behind_the_ca() -> None:
    storage, gate, line = MemoryStorage(), Gate(), Line(held=True)
    gw = gateway(storage, gate)
    for n in range(3):  # each returns at once (no answer of its own): CA sent, effects queued
        assert await asyncio.wait_for(gw(enhanced(f"E{n}", patient=f"P{n}"), line.peer), 1) == b""
    assert line.sent == [("CA", "E0"), ("CA", "E1"), ("CA", "E2")]
    assert [await status(storage, f"E{n}") for n in range(3)] == ["received"] * 3  # stored, committed
    line.open.set()
    await line.effects.drain()
    assert gate.ran == ["E0", "E1", "E2"]
    assert line.sent[3:] == [("AA", "E0"), ("AA", "E1"), ("AA", "E2")]
    assert [await status(storage, f"E{n}") for n in range(3)] == ["processed"] * 3
    await line.effects.close()


async def test_one_patients_messages_keep_their_order_behind_the_ca() -> None:
    storage, line = MemoryStorage(), Line()
    gw = gateway(storage)
    await gw(enhanced("O1"), line.peer)
    await gw(enhanced("O2", event="A08", phone="13900000002"), line.peer)
    await gw(enhanced("O3", event="A08", phone="13900000003"), line.peer)
    await line.effects.drain()
    assert [code for code, _ in line.sent] == ["CA", "CA", "CA", "AA", "AA", "AA"]
    async with storage.unit_of_work() as uow:
        (patient,) = await uow.resources.search("Patient", [])
    assert patient.version_id == 3 and patient.body["telecom"][0]["value"] == "13900000003"
    await line.effects.close()


async def test_a_full_queue_holds_the_connection_back() -> None:
    storage, gate, line = MemoryStorage(), Gate(), Line(limit=1, held=True)
    gw = gateway(storage, gate)
    await gw(enhanced("B0", patient="P0"), line.peer)  # running (held at the gate)
    await asyncio.sleep(0)
    await gw(enhanced("B1", patient="P1"), line.peer)  # waiting: the queue is full now
    third = asyncio.create_task(gw(enhanced("B2", patient="P2"), line.peer))
    await asyncio.sleep(0.02)
    assert not third.done()  # the frame's handling waits: the connection reads no further
    assert line.effects.pending == 2
    line.open.set()
    assert await asyncio.wait_for(third, 1) == b""
    await line.effects.drain()
    assert gate.ran == ["B0", "B1", "B2"]
    await line.effects.close()


async def test_an_original_mode_message_waits_for_the_effects_queued_before_it() -> None:
    storage, gate, line = MemoryStorage(), Gate(), Line(held=True)
    gw = gateway(storage, gate)
    await gw(enhanced("M1", patient="P1"), line.peer)
    original = asyncio.create_task(gw(adt("M2", patient="P2").encode(), line.peer))
    await asyncio.sleep(0.02)
    assert not original.done() and gate.ran == []
    line.open.set()
    assert msa(await asyncio.wait_for(original, 1)) == ("AA", "M2")
    assert gate.ran == ["M1", "M2"]
    await line.effects.close()


async def test_a_duplicate_of_a_queued_message_runs_nothing_twice() -> None:
    storage, gate, line = MemoryStorage(), Gate(), Line(held=True)
    gw = gateway(storage, gate)
    await gw(enhanced("D1"), line.peer)
    await gw(enhanced("D1"), line.peer)  # again before its effects ran: queued again, behind it
    line.open.set()
    await line.effects.drain()
    assert gate.ran == ["D1"] and await patient_versions(storage) == [1]
    assert line.sent == [("CA", "D1"), ("CA", "D1"), ("AA", "D1"), ("AA", "D1")]  # the same answer twice
    await line.effects.close()


async def test_recovery_runs_what_a_crash_left_received_once() -> None:
    storage = MemoryStorage()
    async with storage.unit_of_work() as uow:  # CA'd, then the process died: stored, never run
        for n in range(3):
            await uow.messages.add(
                sender="HIS^H001", control_id=f"R{n}", raw=enhanced(f"R{n}", patient=f"P{n}")
            )
    gw = gateway(storage)
    assert await gw.recover() == 3
    assert [await status(storage, f"R{n}") for n in range(3)] == ["processed"] * 3
    assert await patient_versions(storage) == [1, 1, 1]
    assert await gw.recover() == 0  # nothing left: nothing runs again
    line = Line()
    answer = await gw(enhanced("R1", patient="P1"), line.peer)  # sent again: CA, its stored AA
    assert line.sent == [("CA", "R1")] and msa(answer) == ("AA", "R1")
    assert await patient_versions(storage) == [1, 1, 1]
    await line.effects.close()


async def test_recovery_runs_oldest_first() -> None:
    storage, gate = MemoryStorage(), Gate()
    async with storage.unit_of_work() as uow:
        for control_id in ("Z9", "A1", "M5"):
            await uow.messages.add(sender="HIS^H001", control_id=control_id, raw=enhanced(control_id))
    assert await gateway(storage, gate).recover() == 3
    assert gate.ran == ["Z9", "A1", "M5"]
