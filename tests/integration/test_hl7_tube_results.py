"""ORU^R01 for a pooled sampling tube, over the real MLLP listener and SQLite (and PostgreSQL): the
lab's result reaches the sampling service's ``record_result`` in the message's own unit of work.
All data is synthetic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapter.hl7v2 import MllpServer, frame
from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.senders import SenderTable
from adapter.security.audit import Auditor
from adapter.storage import SqlStorage, Vault
from adapter.storage.records import SamplingRegistration
from tests.contract.storage.conftest import POSTGRES, postgres_database, prepare_sql  # noqa: F401 (a fixture)
from tests.mllp_client import raw_client
from tests.unit.hl7v2.samples import msa, segment

AT = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
TUBE = "TUBE20261129"

ORU = (
    "MSH|^~\\&|LAB|L1|DUALCODE|P01|20261129120000||ORU^R01^ORU_R01|{control}|P|2.5.1|||||CHN|UNICODE UTF-8\r"
    "{pid}"
    "ORC|RE|reg1^DUALCODE||{tube}^DUALCODE\r"
    "OBR|1|reg1^DUALCODE||94500-6^SARS-CoV-2 RNA^LN|||20261129100000\r"
    "OBX|1|CWE|94500-6^SARS-CoV-2 RNA^LN||{result}||||||F\r"
    "SPM|1|{tube}^DUALCODE||258529004^Throat swab^SCT\r"
)


def oru(control: str, result: str = "阳性", *, tube: str = TUBE, pid: str = "") -> bytes:
    return ORU.format(control=control, result=result, tube=tube, pid=pid).encode()


@pytest.fixture(params=["sqlite", POSTGRES])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStorage]:
    store = SqlStorage(await prepare_sql(request.param, tmp_path, request), Vault.generate())
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def port(storage: SqlStorage) -> AsyncIterator[int]:
    gateway = Gateway(storage, default_bindings(), senders=SenderTable(), auditor=Auditor())
    server = MllpServer(host="127.0.0.1", port=0, handler=gateway, idle_timeout_s=10.0)
    _, bound = await server.start()
    try:
        yield bound
    finally:
        await server.stop()


async def tube_of_two(storage: SqlStorage, *, closed: bool = True) -> None:
    async with storage.unit_of_work() as uow:
        await uow.sampling.open_tube(barcode=TUBE, round="R1", point="P01", pool_size=5)
        for n in (1, 2):
            await uow.sampling.add(
                SamplingRegistration(f"reg{n}", TUBE, n, f"pat-{n}", "R1", "P01", AT, "sampler", "张*")
            )
        if closed:
            await uow.sampling.set_status(TUBE, "closed", at=AT)


def err(ack: bytes) -> str:
    return "|".join(segment(ack, "ERR"))


async def send(port: int, *messages: bytes) -> list[bytes]:
    return await asyncio.to_thread(raw_client, port, [frame(m) for m in messages], len(messages))


async def test_a_positive_tube_result_is_recorded_announced_and_acknowledged_once(
    storage: SqlStorage, port: int
) -> None:
    await tube_of_two(storage)
    first, again = await send(port, oru("LAB0001"), oru("LAB0001"))
    assert msa(first) == ("AA", "LAB0001")
    assert again == first  # a repeat: the stored ACK, nothing runs twice
    async with storage.unit_of_work(read_only=True) as uow:
        tube = await uow.sampling.get_tube(TUBE)
        assert tube is not None and tube.result == "positive" and tube.resulted_at is not None
        events = [e for e in await uow.outbox.list() if e.topic == "sampling.tube-positive"]
        assert [e.payload for e in events] == [
            {"tube": TUBE, "round": "R1", "patients": ["Patient/pat-1", "Patient/pat-2"]}
        ]
        stored = await uow.messages.find("LAB^L1", "LAB0001")
        assert stored is not None and stored.status == "processed" and stored.ack == first
        audit = await uow.audit.search(agent="mllp:LAB^L1")
        assert {a.operation for a in audit} >= {"sampling record-result", "hl7 ORU^R01"}


async def test_a_negative_result_of_a_tube_named_with_a_patient_goes_to_the_tube(
    storage: SqlStorage, port: int
) -> None:
    await tube_of_two(storage)
    (ack,) = await send(port, oru("LAB0002", "NEG", pid="PID|1||pat-1^^^DUALCODE^PI\r"))
    assert msa(ack)[0] == "AA"
    async with storage.unit_of_work(read_only=True) as uow:
        tube = await uow.sampling.get_tube(TUBE)
        assert tube is not None and tube.result == "negative"
        assert [e for e in await uow.outbox.list() if e.topic == "sampling.tube-positive"] == []
        assert await uow.resources.search("DiagnosticReport", []) == []  # not a patient's report


async def test_a_result_for_an_open_or_unknown_tube_is_refused_and_nothing_changes(
    storage: SqlStorage, port: int
) -> None:
    await tube_of_two(storage, closed=False)
    open_tube, unknown = await send(port, oru("LAB0003"), oru("LAB0004", tube="NOSUCHTUBE1"))
    assert msa(open_tube)[0] == "AE" and "DC-6008" in err(open_tube)
    assert msa(unknown)[0] == "AE" and "DC-6005" in err(unknown)
    assert "|SPM^1^2|" in err(unknown)  # ERR-2: where the unknown tube was named
    async with storage.unit_of_work(read_only=True) as uow:
        tube = await uow.sampling.get_tube(TUBE)
        assert tube is not None and tube.result is None
        assert await uow.outbox.list() == []
        for control in ("LAB0003", "LAB0004"):
            stored = await uow.messages.find("LAB^L1", control)
            assert stored is not None and stored.status == "error"


async def test_an_oru_whose_specimen_is_no_tube_is_a_patients_result(storage: SqlStorage, port: int) -> None:
    (ack,) = await send(
        port, oru("LAB0005", "POS", tube="S-1", pid="PID|1||H0001^^^H001^MR~110101199003074514^^^CHN^NNCHN\r")
    )
    assert msa(ack)[0] == "AA"
    async with storage.unit_of_work(read_only=True) as uow:
        assert len(await uow.resources.search("DiagnosticReport", [])) == 1
        assert await uow.sampling.get_tube("S-1") is None
