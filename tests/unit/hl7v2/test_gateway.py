"""The gateway pipeline over the in-memory store: durable before ACK, execute once, ACK modes."""

from __future__ import annotations

from contextlib import _AsyncGeneratorContextManager

import pytest

from adapter.errors import SenderNotAllowed, ServiceUnavailable, UnparseableMessage
from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.handler import Peer
from adapter.hl7v2.handlers import AdtHandler
from adapter.hl7v2.router import Binding, BindingTable, HandlerResult, MessageContext
from adapter.hl7v2.senders import SenderConfig, SenderTable
from adapter.mpi import PatientIndex
from adapter.security.audit import Auditor
from adapter.storage import MemoryStorage
from adapter.storage.ports import UnitOfWork
from mappings.v2_to_fhir import SenderProfile
from tests.unit.hl7v2.samples import adt, msa, segment

adt_patient = AdtHandler(PatientIndex())


class Wire:
    """A peer whose early messages (commit ACKs) are collected."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sent: list[bytes] = []
        self.peer = Peer(host, 40000, send=self._send)

    async def _send(self, message: bytes) -> None:
        self.sent.append(message)


def gateway(
    storage: MemoryStorage, table: BindingTable | None = None, senders: SenderTable | None = None
) -> Gateway:
    return Gateway(storage, table or default_bindings(), senders=senders or SenderTable(), auditor=Auditor())


async def patients(storage: MemoryStorage) -> list[tuple[str, int]]:
    async with storage.unit_of_work() as uow:
        found = await uow.resources.search("Patient", [])
        return [(p.id, p.version_id) for p in found]


async def test_an_adt_is_stored_processed_and_acknowledged_aa() -> None:
    storage, wire = MemoryStorage(), Wire()
    ack = await gateway(storage)(adt("M1").encode(), wire.peer)
    assert msa(ack) == ("AA", "M1") and wire.sent == []
    async with storage.unit_of_work() as uow:
        stored = await uow.messages.find("HIS^H001", "M1")
        assert stored is not None and stored.status == "processed" and stored.ack == ack
        assert stored.message_type == "ADT^A04" and stored.patient_id is not None
        assert stored.resources[0] == f"Patient/{stored.patient_id}/_history/1"
        assert [r.split("/")[0] for r in stored.resources] == ["Patient", "Encounter"]
        patient = await uow.resources.read("Patient", stored.patient_id)
        audit = await uow.audit.search(patient_id=stored.patient_id)
    assert patient.body["name"][0]["text"] == "JOHN SMITH"
    assert patient.body["identifier"][0]["value"] == "P1001"
    hl7 = [a for a in audit if a.operation == "hl7 ADT^A04"]
    assert len(hl7) == 1 and hl7[0].agent == "mllp:HIS^H001"


async def test_a_repeated_control_id_gets_the_same_ack_and_runs_once() -> None:
    storage, wire = MemoryStorage(), Wire()
    gw = gateway(storage)
    first = await gw(adt("M1").encode(), wire.peer)
    again = await gw(adt("M1", family="CHANGED").encode(), wire.peer)
    assert again == first
    assert [v for _, v in await patients(storage)] == [1]
    update = await gw(adt("M2", event="A08", phone="13900000001").encode(), wire.peer)
    assert msa(update) == ("AA", "M2") and [v for _, v in await patients(storage)] == [2]


async def test_a_message_stored_but_never_finished_runs_when_it_comes_again() -> None:
    storage = MemoryStorage()
    raw = adt("M1").encode()
    async with storage.unit_of_work() as uow:  # what a crash after the store commit leaves behind
        await uow.messages.add(sender="HIS^H001", control_id="M1", raw=raw, message_type="ADT^A04")
    ack = await gateway(storage)(raw, Wire().peer)
    assert msa(ack) == ("AA", "M1") and len(await patients(storage)) == 1


async def test_unmatched_type_is_rejected_and_stored_as_rejected() -> None:
    storage = MemoryStorage()
    gw = gateway(storage)
    ack = await gw(adt("R1", message_type="ORM", event="O01").encode(), Wire().peer)
    assert msa(ack) == ("AR", "R1") and "DC-4001" in segment(ack, "ERR")[5]
    assert await gw(adt("R1", message_type="ORM", event="O01").encode(), Wire().peer) == ack
    async with storage.unit_of_work() as uow:
        stored = await uow.messages.find("HIS^H001", "R1")
    assert stored is not None and stored.status == "rejected" and stored.error is not None


async def test_unsupported_version_is_ar_203() -> None:
    ack = await gateway(MemoryStorage())(adt("V1", version="2.6").encode(), Wire().peer)
    assert msa(ack) == ("AR", "V1") and segment(ack, "ERR")[3].startswith("203^")


async def test_undecodable_text_is_ae_and_stored_as_error_without_the_text() -> None:
    storage = MemoryStorage()
    raw = adt("U1", family="张", charset="UNICODE UTF-8").encode("gbk")
    ack = await gateway(storage)(raw, Wire().peer)
    assert msa(ack) == ("AE", "U1")
    async with storage.unit_of_work() as uow:
        stored = await uow.messages.find("HIS^H001", "U1")
    assert stored is not None and stored.status == "error" and stored.raw == raw
    assert stored.error is not None and "DC-4004" in stored.error


async def test_a_failing_handler_rolls_back_its_effects_and_answers_ae_207() -> None:
    async def half_done(context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        await adt_patient(context, uow)
        raise RuntimeError("boom 11010519491231002X")

    storage = MemoryStorage()
    ack = await gateway(storage, BindingTable([Binding(half_done, "broken")]))(
        adt("E1").encode(), Wire().peer
    )
    assert msa(ack) == ("AE", "E1") and segment(ack, "ERR")[3].startswith("207^")
    assert await patients(storage) == []
    async with storage.unit_of_work() as uow:
        stored = await uow.messages.find("HIS^H001", "E1")
    assert stored is not None and stored.status == "error"
    assert stored.error is not None and "11010519491231002X" not in stored.error


async def test_gbk_without_msh_18_is_read_with_the_senders_charset() -> None:
    storage = MemoryStorage()
    # CX.4 协和 cannot name a system by itself: the sender's profile maps it.
    profile = SenderProfile(identifier_types={"MR@协和": "urn:dualcode:hospital:PUMCH:patient-number"})
    senders = SenderTable({"HIS^协和": SenderConfig("HIS^协和", codec="gb18030", profile=profile)})
    raw = adt("G1", facility="协和", family="张", given="三").encode("gbk")
    ack = await gateway(storage, senders=senders)(raw, Wire().peer)
    assert msa(ack, "gbk") == ("AA", "G1")
    assert segment(ack, "MSH", "gbk")[5] == "协和"  # the ACK speaks the sender's charset
    async with storage.unit_of_work() as uow:
        stored = await uow.messages.find("HIS^协和", "G1")
        assert stored is not None and stored.patient_id is not None
        patient = await uow.resources.read("Patient", stored.patient_id)
    assert patient.body["name"][0]["text"] == "张三"
    assert patient.body["identifier"][0]["system"] == "urn:dualcode:hospital:PUMCH:patient-number"


@pytest.mark.parametrize(
    ("accept", "app_ack", "commits", "answer"),
    [("AL", "AL", ["CA"], "AA"), ("NE", "AL", [], "AA"), ("AL", "NE", ["CA"], ""), ("AL", "ER", ["CA"], "")],
)
async def test_enhanced_mode_sends_ca_when_stored_then_the_application_ack(
    accept: str, app_ack: str, commits: list[str], answer: str
) -> None:
    wire = Wire()
    ack = await gateway(MemoryStorage())(
        adt("N1", accept=accept, application_ack=app_ack).encode(), wire.peer
    )
    assert [msa(m) for m in wire.sent] == [(code, "N1") for code in commits]
    assert (msa(ack)[0] if ack else "") == answer


async def test_enhanced_mode_errors_and_refusals() -> None:
    storage, wire = MemoryStorage(), Wire()
    gw = gateway(storage)
    refused = await gw(
        adt("N2", message_type="ORM", event="O01", accept="AL", application_ack="AL").encode(), wire.peer
    )
    assert msa(refused) == ("CR", "N2") and wire.sent == []  # refused at acceptance: CR, no CA
    failed = await gw(
        adt("N3", charset="UNICODE UTF-8", family="张", accept="AL", application_ack="ER").encode("gbk"),
        wire.peer,
    )
    assert [msa(m)[0] for m in wire.sent] == ["CA"] and msa(failed) == ("AE", "N3")


async def test_a_senders_ack_mode_overrides_msh_15_and_16() -> None:
    senders = SenderTable({"HIS^H001": SenderConfig("HIS^H001", codec="utf-8", ack_mode="original")})
    wire = Wire()
    ack = await gateway(MemoryStorage(), senders=senders)(
        adt("O1", accept="NE", application_ack="NE").encode(), wire.peer
    )
    assert wire.sent == [] and msa(ack) == ("AA", "O1")


async def test_a_sender_not_allowed_is_refused_before_anything_is_stored() -> None:
    storage = MemoryStorage()
    senders = SenderTable(require_known=True)
    with pytest.raises(SenderNotAllowed):
        await gateway(storage, senders=senders)(adt("X1").encode(), Wire().peer)
    async with storage.unit_of_work() as uow:
        assert await uow.messages.list() == []


async def test_no_msh_or_no_control_id_is_refused_unstored() -> None:
    storage = MemoryStorage()
    with pytest.raises(UnparseableMessage):
        await gateway(storage)(b"PID|1||X", Wire().peer)
    with pytest.raises(UnparseableMessage, match="MSH-10"):
        await gateway(storage)(adt("").encode(), Wire().peer)


async def test_reprocess_runs_a_failed_message_again() -> None:
    storage = MemoryStorage()
    gw_without = gateway(storage, BindingTable())
    await gw_without(adt("F1").encode(), Wire().peer)
    async with storage.unit_of_work() as uow:
        stored = await uow.messages.find("HIS^H001", "F1")
    assert stored is not None and stored.status == "rejected"
    after = await gateway(storage).reprocess(stored.id)
    assert after.status == "processed" and after.patient_id is not None and after.error is None
    assert after.ack is not None and msa(after.ack) == ("AA", "F1")


async def test_a_transient_failure_keeps_no_ack_so_the_retry_runs() -> None:
    calls: list[str] = []

    async def flaky(context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        calls.append(context.msh.control_id)
        if len(calls) == 1:
            raise ServiceUnavailable("the database is busy")
        return await adt_patient(context, uow)

    storage = MemoryStorage()
    gw = gateway(storage, BindingTable([Binding(flaky, "flaky")]))
    assert msa(await gw(adt("T1").encode(), Wire().peer)) == ("AE", "T1")
    assert msa(await gw(adt("T1").encode(), Wire().peer)) == ("AA", "T1")
    assert calls == ["T1", "T1"] and len(await patients(storage)) == 1


class CountingStorage(MemoryStorage):
    """Records the kind of every unit of work opened: (read_only, grouped)."""

    def __init__(self) -> None:
        super().__init__()
        self.units: list[tuple[bool, bool]] = []

    def unit_of_work(
        self, *, read_only: bool = False, grouped: bool = False
    ) -> _AsyncGeneratorContextManager[UnitOfWork]:
        self.units.append((read_only, grouped))
        return super().unit_of_work(read_only=read_only, grouped=grouped)


async def test_original_mode_stores_and_executes_in_one_grouped_unit_of_work() -> None:
    storage = CountingStorage()
    gw = gateway(storage)
    ack = await gw(adt("U1").encode(), Wire().peer)
    assert msa(ack) == ("AA", "U1")
    assert storage.units == [(False, True)]  # raw, effects, outcome, audit: one commit
    storage.units.clear()
    assert await gw(adt("U1").encode(), Wire().peer) == ack  # a repeat: one unit, nothing written
    assert storage.units == [(False, True)] and [v for _, v in await patients(storage)] == [1]


async def test_a_failed_message_is_stored_with_its_error_in_a_unit_of_its_own() -> None:
    async def broken(context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        await adt_patient(context, uow)
        raise RuntimeError("boom")

    storage = CountingStorage()
    ack = await gateway(storage, BindingTable([Binding(broken, "broken")]))(adt("U2").encode(), Wire().peer)
    assert msa(ack) == ("AE", "U2")
    assert storage.units == [(False, True), (False, True)]  # the failed unit, then the error record
    assert await patients(storage) == []


async def test_enhanced_mode_still_commits_the_raw_message_before_its_ca() -> None:
    storage, wire = CountingStorage(), Wire()
    ack = await gateway(storage)(adt("U3", accept="AL", application_ack="AL").encode(), wire.peer)
    assert [msa(m)[0] for m in wire.sent] == ["CA"] and msa(ack) == ("AA", "U3")
    assert storage.units[:2] == [(False, True), (False, True)]  # store + commit, then execute
