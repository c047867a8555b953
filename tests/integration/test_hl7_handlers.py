"""Every handled message type through the real MLLP listener on loopback, over SQLite, sent by real
clients (python-hl7's ``mllp_send`` and raw sockets): the resources in the store, the ACK or RSP
that comes back, one Patient per person across hospitals, and A40 merges. Data is synthetic."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapter.hl7v2 import MllpServer, frame
from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.senders import SenderTable
from adapter.security.audit import Auditor
from adapter.storage import SqlStorage, Storage, Vault
from tests.contract.storage.databases import sqlite_database
from tests.integration.test_hl7_gateway import send, unframe
from tests.unit.hl7v2.handlers.support import golden, segments, utf8
from tests.unit.hl7v2.samples import adt, msa

MLLP_SEND = Path(sys.executable).with_name("mllp_send")
BZRMYY = "urn:dualcode:hospital:BZRMYY:patient-number"
BZZXYY = "urn:dualcode:hospital:BZZXYY:patient-number"
A04 = "adt_a04_v25_chinese"


class Hospital:
    """The gateway on a loopback port over one SQLite database."""

    def __init__(self, storage: Storage, port: int) -> None:
        self.storage, self.port = storage, port

    async def one(self, raw: bytes, expect: int = 1) -> list[bytes]:
        answers = await send(self.port, [frame(raw)], expect)
        await self.settled()
        return answers

    async def settled(self) -> None:
        """Wait until no message is left stored but unprocessed: in enhanced mode the CA comes once
        the message is stored and its effects run behind it (docs/hl7v2.md)."""
        for _ in range(500):
            async with self.storage.unit_of_work() as uow:
                if not await uow.messages.list(status="received", limit=1):
                    return
            await asyncio.sleep(0.01)
        raise AssertionError("a message stayed received: its effects never ran")

    async def stored(self, sender: str, control_id: str) -> tuple[str, tuple[str, ...], str | None]:
        async with self.storage.unit_of_work() as uow:
            found = await uow.messages.find(sender, control_id)
        assert found is not None
        return found.status, found.resources, found.patient_id

    async def body(self, reference: str) -> dict[str, object]:
        kind, rid = reference.split("/")[:2]
        async with self.storage.unit_of_work() as uow:
            return (await uow.resources.read(kind, rid)).body


@pytest.fixture
async def hospital(tmp_path: Path) -> AsyncIterator[Hospital]:
    storage = SqlStorage(await sqlite_database(tmp_path), Vault.generate())
    gateway = Gateway(storage, default_bindings(), senders=SenderTable(), auditor=Auditor())
    server = MllpServer(host="127.0.0.1", port=0, handler=gateway, idle_timeout_s=10.0)
    _, port = await server.start()
    try:
        yield Hospital(storage, port)
    finally:
        await server.stop()
        await storage.close()


def identifiers(patient: dict[str, object]) -> set[tuple[str, str]]:
    found = patient.get("identifier", [])
    assert isinstance(found, list)
    return {(str(i["system"]), str(i["value"])) for i in found}


async def test_two_hospitals_one_person_then_feeds_and_queries(hospital: Hospital, tmp_path: Path) -> None:
    # Golden A04 asks for enhanced mode with no application ACK (MSH-15 AL, MSH-16 NE): CA only.
    (commit,) = await hospital.one(golden(A04))
    assert msa(commit) == ("CA", "A04-0001")
    status, resources, patient_id = await hospital.stored("HIS^BZRMYY", "A04-0001")
    assert status == "processed" and [r.split("/")[0] for r in resources] == [
        "Patient",
        "Encounter",
        "Coverage",
    ]
    other = utf8(A04, **{"BZRMYY": "BZZXYY", "0012345": "ZY0099", "A04-0001": "A04-0002", "|AL|NE|": "|||"})
    (ack,) = await hospital.one(other)
    assert msa(ack) == ("AA", "A04-0002")
    _, _, same = await hospital.stored("HIS^BZZXYY", "A04-0002")
    assert same == patient_id and patient_id is not None
    patient = await hospital.body(f"Patient/{patient_id}")
    assert {(BZRMYY, "0012345"), (BZZXYY, "ZY0099")} <= identifiers(patient)

    # The clinical feeds, as one file through python-hl7's mllp_send.
    feeds = ["dft_p03_two_ft1", "rde_o11", "rds_o13", "oru_r01_nm_st"]
    batch = tmp_path / "feeds.hl7"
    batch.write_bytes(b"".join(frame(golden(name)) for name in feeds))
    proc = await asyncio.create_subprocess_exec(
        str(MLLP_SEND), "--port", str(hospital.port), "--file", str(batch), "127.0.0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr
    acks = unframe(stdout.replace(b"\x1c\r\n", b"\x1c\r"))
    assert [msa(a) for a in acks] == [("AA", c) for c in ("P03-0001", "O11-0001", "O13-0001", "R01-0001")]
    expected = {
        ("HIS^BZRMYY", "P03-0001"): ["ChargeItem", "ChargeItem"],
        ("HIS^BZRMYY", "O11-0001"): ["MedicationRequest"],
        ("PHARM^BZRMYY", "O13-0001"): ["MedicationRequest", "MedicationDispense"],
        ("LIS^BZRMYY", "R01-0001"): ["DiagnosticReport", "Observation", "Observation", "Observation"],
    }
    for (sender, control_id), kinds in expected.items():
        status, resources, about = await hospital.stored(sender, control_id)
        assert status == "processed" and about == patient_id
        assert [r.split("/")[0] for r in resources[2:]] == kinds
        for reference in resources[2:]:
            body = await hospital.body(reference)
            assert body.get("subject") == {"reference": f"Patient/{patient_id}"}

    (pix,) = await hospital.one(golden("qbp_q23_pix"))
    assert segments(pix, "MSH")[0][8] == "RSP^K23^RSP_K23" and segments(pix, "QAK")[0][2] == "OK"
    assert sorted(c.split("^")[0] for c in segments(pix, "PID")[0][3].split("~")) == [
        "371602198503151238",
        "ZY0099",
    ]
    (pdq,) = await hospital.one(golden("qbp_q22_pdq"))
    assert segments(pdq, "MSH")[0][8] == "RSP^K22^RSP_K21" and segments(pdq, "QAK")[0][2] == "OK"
    assert segments(pdq, "PID")[0][3].startswith("ZY0099^^^BZZXYY")


async def test_a40_merges_the_prior_patient_into_the_survivor(hospital: Hospital) -> None:
    def registration(number: str, control_id: str) -> bytes:
        return (
            "MSH|^~\\&|HIS|BZRMYY|DUALCODE|BZWJW|20250601080000||ADT^A04^ADT_A01|"
            f"{control_id}|P|2.5\rPID|1||{number}^^^BZRMYY^MR||孙^强||19780222|M\r"
        ).encode()

    for number, control_id in (("0078", "R78"), ("0077", "R77")):
        (ack,) = await hospital.one(registration(number, control_id))
        assert msa(ack) == ("AA", control_id)
    _, _, prior = await hospital.stored("HIS^BZRMYY", "R78")
    _, _, survivor = await hospital.stored("HIS^BZRMYY", "R77")
    (ack,) = await hospital.one(golden("adt_a40_merge"))
    assert msa(ack) == ("AA", "A40-0001")
    status, resources, about = await hospital.stored("HIS^BZRMYY", "A40-0001")
    assert status == "processed" and about == survivor and resources[-1].startswith("Provenance/")
    old = await hospital.body(f"Patient/{prior}")
    assert old["active"] is False and old["link"] == [
        {"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}
    ]
    assert (BZRMYY, "0078") in identifiers(await hospital.body(f"Patient/{survivor}"))


async def test_refusals_carry_the_hl7_code_and_location(hospital: Hospital) -> None:
    (no_pid_3,) = await hospital.one(adt("X1").replace("P1001^^^H001^MR", "").encode())
    assert msa(no_pid_3) == ("AR", "X1")
    (err,) = segments(no_pid_3, "ERR")
    assert err[2] == "PID^1^3" and err[3].startswith("101^") and err[5].startswith("DC-4007^")
    status, resources, _ = await hospital.stored("HIS^H001", "X1")
    assert status == "rejected" and resources == ()
    (unknown_prior,) = await hospital.one(utf8("adt_a40_merge", **{"0078^^^": "9999^^^"}))
    assert msa(unknown_prior)[0] == "AE" and "DC-4008" in unknown_prior.decode()
