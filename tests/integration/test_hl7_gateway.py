"""The HL7 gateway behind the real MLLP listener on loopback, over SQLite, driven by real clients:
python-hl7's ``mllp_send`` command and raw sockets (blocking ones run in a thread, as a separate
client would be). All data is synthetic."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapter.hl7v2 import MllpServer, frame
from adapter.hl7v2.access import AllowList
from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.senders import SenderConfig, SenderTable
from adapter.security.audit import Auditor
from adapter.storage import SqlStorage, Storage, Vault
from mappings.v2_to_fhir import SenderProfile
from tests.contract.storage.databases import sqlite_database
from tests.mllp_client import CR, FS, raw_client, unframe
from tests.unit.hl7v2.samples import adt, msa, segment

MLLP_SEND = Path(sys.executable).with_name("mllp_send")


class Rig:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.servers: list[MllpServer] = []

    async def serve(self, senders: SenderTable | None = None, **options: object) -> int:
        gateway = Gateway(
            self.storage, default_bindings(), senders=senders or SenderTable(), auditor=Auditor()
        )
        server = MllpServer(host="127.0.0.1", port=0, handler=gateway, idle_timeout_s=10.0, **options)  # type: ignore[arg-type]
        _, port = await server.start()
        self.servers.append(server)
        return port

    async def patient_versions(self) -> list[int]:
        async with self.storage.unit_of_work() as uow:
            return [p.version_id for p in await uow.resources.search("Patient", [])]

    async def status(self, sender: str, control_id: str) -> str | None:
        async with self.storage.unit_of_work() as uow:
            found = await uow.messages.find(sender, control_id)
        return None if found is None else found.status


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    storage = SqlStorage(await sqlite_database(tmp_path), Vault.generate())
    made = Rig(storage)
    try:
        yield made
    finally:
        for server in made.servers:
            await server.stop()
        await storage.close()


async def send(port: int, writes: list[bytes], expect: int) -> list[bytes]:
    return await asyncio.to_thread(raw_client, port, writes, expect)


async def test_mllp_send_stores_and_acknowledges_every_frame_of_a_file(rig: Rig, tmp_path: Path) -> None:
    port = await rig.serve()
    messages = tmp_path / "messages.hl7"
    messages.write_bytes(b"".join(frame(adt(f"CLI{i}", patient=f"P{i}").encode()) for i in range(3)))
    proc = await asyncio.create_subprocess_exec(
        str(MLLP_SEND), "--port", str(port), "--file", str(messages), "127.0.0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr
    acks = unframe(stdout.replace(FS + CR + b"\n", FS + CR))  # it prints each reply and a newline
    assert [msa(ack) for ack in acks] == [("AA", f"CLI{i}") for i in range(3)]
    assert await rig.patient_versions() == [1, 1, 1]


async def test_split_and_back_to_back_frames(rig: Rig) -> None:
    port = await rig.serve()
    wire = frame(adt("SPLIT").encode())
    pieces = [wire[:1], wire[1:10], wire[10:-2], wire[-2:-1], wire[-1:]]  # ... FS | CR
    assert [msa(a) for a in await send(port, pieces, 1)] == [("AA", "SPLIT")]
    burst = b"".join(frame(adt(f"B{i}", event="A08", phone=f"1390000000{i}").encode()) for i in range(5))
    acks = await send(port, [burst], 5)
    assert [msa(a) for a in acks] == [("AA", f"B{i}") for i in range(5)]
    assert await rig.patient_versions() == [6]  # one patient: registered, then five updates in order


async def test_a_connection_dropped_mid_frame_stores_nothing_and_the_listener_serves_on(rig: Rig) -> None:
    port = await rig.serve()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(frame(adt("HALF").encode())[:-30])
    await asyncio.sleep(0.1)
    assert await rig.status("HIS^H001", "HALF") is None
    assert [msa(a) for a in await send(port, [frame(adt("HALF").encode())], 1)] == [("AA", "HALF")]


async def test_gbk_with_empty_msh_18_and_a_gbk_sender(rig: Rig) -> None:
    profile = SenderProfile(identifier_types={"MR@协和": "urn:dualcode:hospital:PUMCH:patient-number"})
    senders = SenderTable({"HIS^协和": SenderConfig("HIS^协和", codec="gb18030", profile=profile)})
    port = await rig.serve(senders)
    raw = adt("G1", facility="协和", family="欧阳", given="娜娜").encode("gbk")
    (ack,) = await send(port, [frame(raw)], 1)
    assert msa(ack, "gbk") == ("AA", "G1") and segment(ack, "MSH", "gbk")[5] == "协和"
    async with rig.storage.unit_of_work() as uow:
        stored = await uow.messages.find("HIS^协和", "G1")
        assert stored is not None and stored.raw == raw and stored.patient_id is not None
        patient = await uow.resources.read("Patient", stored.patient_id)
    assert patient.body["name"][0]["text"] == "欧阳娜娜"


async def test_a_duplicate_control_id_gets_the_same_ack_and_runs_once(rig: Rig) -> None:
    port = await rig.serve()
    (first,) = await send(port, [frame(adt("D1").encode())], 1)
    (again,) = await send(port, [frame(adt("D1", family="OTHER").encode())], 1)  # a new connection
    assert msa(first) == ("AA", "D1") and again == first
    assert await rig.patient_versions() == [1]


async def test_enhanced_mode_commit_ack_then_application_ack(rig: Rig) -> None:
    port = await rig.serve()
    acks = await send(port, [frame(adt("E1", accept="AL", application_ack="AL").encode())], 2)
    assert [msa(a) for a in acks] == [("CA", "E1"), ("AA", "E1")]
    acks = await send(port, [frame(adt("E2", accept="AL", application_ack="ER").encode())], 1)
    assert [msa(a) for a in acks] == [("CA", "E2")]


async def test_an_unmatched_type_is_ar_no_destination(rig: Rig) -> None:
    port = await rig.serve()
    (ack,) = await send(port, [frame(adt("U1", message_type="ORM", event="O01").encode())], 1)
    assert msa(ack) == ("AR", "U1") and segment(ack, "ERR")[3].startswith("200^")
    assert await rig.status("HIS^H001", "U1") == "rejected"


async def test_a_peer_off_the_allow_list_gets_ar_then_the_connection_closes(rig: Rig) -> None:
    port = await rig.serve(allowed=AllowList.parse(["192.0.2.0/24"]))
    wire = frame(adt("N1").encode()) + frame(adt("N2").encode())
    acks = await send(port, [wire], 2)  # reads until the server closes
    assert len(acks) == 1 and msa(acks[0]) == ("AR", "N1") and "DC-4005" in segment(acks[0], "ERR")[5]
    assert await rig.status("HIS^H001", "N1") is None


async def test_a_sender_off_its_own_allow_list_is_refused(rig: Rig) -> None:
    senders = SenderTable(
        {"HIS^H001": SenderConfig("HIS^H001", "utf-8", allowed=AllowList.parse(["10.0.0.0/8"]))}
    )
    port = await rig.serve(senders)
    acks = await send(port, [frame(adt("S1").encode()) + frame(adt("S2").encode())], 2)
    assert [msa(a) for a in acks] == [("AR", "S1")]


async def test_concurrent_connections_for_one_patient_lose_no_update(rig: Rig) -> None:
    port = await rig.serve()
    await send(port, [frame(adt("R0").encode())], 1)

    def feed(n: int) -> list[bytes]:
        wires = [frame(adt(f"C{n}-{i}", event="A08", phone=f"139{n:04d}{i:04d}").encode()) for i in range(10)]
        return raw_client(port, [b"".join(wires)], 10)

    results = await asyncio.gather(*(asyncio.to_thread(feed, n) for n in range(4)))
    assert all(msa(ack)[0] == "AA" for acks in results for ack in acks)
    assert await rig.patient_versions() == [41]


BAD_INPUT = {
    "no MSH": b"PID|1||X\r",
    "wrong field separator": b"MSH^~\\&^HIS^H001^DUALCODE^DC^2026||ADT^A04|B1|P|2.5\r",
    "truncated segments": b"MSH|^~\\&|HIS|H001|DUALCODE|DC|2026||ADT^A04|B2|P|2.5\rPID|1|",
    "invalid dates": adt("B3", patient="PB3").replace("19800101", "19801340").encode(),
    "unknown message type": adt("B4", message_type="ZZZ", event="Z99").encode(),
    "binary garbage": bytes(range(0x80, 0x100)) * 4,
    "empty frame": b"",
}


async def test_bad_input_is_answered_and_the_listener_keeps_serving(rig: Rig) -> None:
    port = await rig.serve()
    wire = b"".join(frame(raw) for raw in BAD_INPUT.values())
    acks = await send(port, [wire], len(BAD_INPUT))
    codes = dict(zip(BAD_INPUT, (msa(ack)[0] for ack in acks), strict=True))
    assert codes == {
        "no MSH": "AR",
        "wrong field separator": "AR",
        "truncated segments": "AR",  # stored and routed; the handler refuses it: PID-3 is missing
        "invalid dates": "AA",  # the birth date is left out, the rest is kept
        "unknown message type": "AR",
        "binary garbage": "AR",
        "empty frame": "AR",
    }
    big = frame(adt("BIG").encode() + b"NTE|1||" + b"x" * (10 * 1024 * 1024) + b"\r")
    (too_big,) = await send(port, [big], 1)
    assert msa(too_big) == ("AR", "BIG")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # a frame with no end
        sock.sendall(b"\x0b" + adt("NOEND").encode())
    assert [msa(a) for a in await send(port, [frame(adt("AFTER").encode())], 1)] == [("AA", "AFTER")]
