"""The MLLP connector against the SIMULATED HIS's receiver, over real loopback sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from his_connectors import load_profile
from his_connectors.mllp import MllpConnector
from mappings.hl7v2 import parse
from sandbox.his import HisMllpServer, HisState
from tests.unit.his_connectors.samples import envelope, patient
from tests.unit.his_connectors.tube_samples import tube_closed


@pytest.fixture
async def his() -> AsyncIterator[HisMllpServer]:
    server = HisMllpServer(HisState(), "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _connector(his: HisMllpServer, **options: object) -> MllpConnector:
    return MllpConnector("127.0.0.1", his.port, backoff_initial_s=0.05, backoff_max_s=0.1, **options)  # type: ignore[arg-type]


def _event_id(n: int) -> str:
    return f"{n:020x}{0:012x}"


async def test_aa_is_delivered_and_many_share_one_connection(his: HisMllpServer) -> None:
    connector = _connector(his)
    try:
        receipts = await asyncio.gather(
            *(connector.deliver(envelope(n=n % 7, event_id=_event_id(n))) for n in range(50))
        )
    finally:
        await connector.close()
    assert all(r.delivered for r in receipts)
    assert {r.reference for r in receipts} == {_event_id(n)[:20] for n in range(50)}  # MSA-2 = MSH-10
    received = his.state.received("H0001", 100)
    assert len(received) == 50 and {r.message_type for r in received} == {"ADT^A04"}
    assert his.state.accepted_keys("H0001") == 50


async def test_ae_fails_with_the_err_text(his: HisMllpServer) -> None:
    his.state.set_mode("H0001", "refuse")
    connector = _connector(his)
    try:
        receipt = await connector.deliver(envelope())
    finally:
        await connector.close()
    assert not receipt.delivered and receipt.retryable
    assert receipt.detail == "AE: simulated refusal"


async def test_no_ack_times_out_and_the_connection_is_renewed(his: HisMllpServer) -> None:
    his.state.set_mode("*", "timeout")
    connector = _connector(his, timeout_s=0.2)
    try:
        late = await connector.deliver(envelope(event_id=_event_id(1)))
        assert not late.delivered and late.detail == "no ACK within 0.2s"
        assert not connector.connected  # a late ACK must not be taken for the next message's
        his.state.set_mode("*", "ok")
        again = await connector.deliver(envelope(event_id=_event_id(1)))
    finally:
        await connector.close()
    assert again.delivered
    assert [r.duplicate for r in his.state.received("H0001")] == [
        False,
        False,
    ]  # the first was never accepted


async def test_a_hang_up_and_an_outage_are_retried_after_reconnecting(his: HisMllpServer) -> None:
    connector = _connector(his, timeout_s=1.0)
    try:
        assert (await connector.deliver(envelope(event_id=_event_id(1)))).delivered
        his.state.set_mode("H0001", "down")
        hung_up = await connector.deliver(envelope(event_id=_event_id(2)))
        assert not hung_up.delivered and hung_up.detail.startswith("HIS unreachable")
        his.state.set_mode("H0001", "ok")
        await his.stop()  # the HIS goes away altogether
        gone = await connector.deliver(envelope(event_id=_event_id(2)))
        assert not gone.delivered and gone.retryable
        assert not (await connector.health()).ok
        await his.start()
        await asyncio.sleep(0.15)  # past the reconnect backoff
        back = await connector.deliver(envelope(event_id=_event_id(2)))
        assert back.delivered
        assert (await connector.health()).ok
    finally:
        await connector.close()


async def test_gbk_text_arrives_readable(his: HisMllpServer) -> None:
    connector = _connector(his, encoding="gbk", profile=load_profile("legacy_cn_his"), hl7_version="2.4")
    try:
        assert (await connector.deliver(envelope())).delivered
    finally:
        await connector.close()
    [item] = his.state.received("H0001")
    message = parse(item.raw)
    assert item.message_type == "ADT^A28" and message.get("PID-5.1") == "测"


async def test_an_unrenderable_event_is_not_retried(his: HisMllpServer) -> None:
    connector = _connector(his)
    try:
        receipt = await connector.deliver(envelope("payment.settled"))
    finally:
        await connector.close()
    assert not receipt.delivered and not receipt.retryable


async def test_a_closed_tube_reaches_the_his_as_oml_o21_messages(his: HisMllpServer) -> None:
    connector = _connector(his)
    try:
        receipt = await connector.deliver(tube_closed(3))
        again = await connector.deliver(tube_closed(3))  # a retry: the same control ids
        his.state.set_mode("H0001", "refuse")
        refused = await connector.deliver(tube_closed(2, event_id="cd" * 16))
    finally:
        await connector.close()
    assert receipt.delivered and again.delivered
    assert not refused.delivered and refused.retryable and "2 of 2 messages not accepted" in refused.detail
    received = list(reversed(his.state.received("H0001", 100)))
    assert [r.message_type for r in received] == ["OML^O21"] * 8
    assert [r.key for r in received[:3]] == ["reg0001", "reg0002", "reg0003"]
    assert [r.duplicate for r in received[3:6]] == [True, True, True]
    assert his.state.accepted_keys("H0001") == 3


async def test_a_charge_reaches_the_his_as_dft_p03(his: HisMllpServer) -> None:
    charge = {
        "resourceType": "ChargeItem",
        "id": "c1",
        "identifier": [{"value": "T0001"}],
        "status": "billable",
        "code": {"coding": [{"system": "urn:dualcode:code-system:v2:BZFEE", "code": "110100001"}]},
        "subject": {"reference": "Patient/p1"},
        "priceOverride": {"value": 10.0, "currency": "CNY"},
    }
    env = envelope("payment.charged", resource=charge, patient=patient(1))
    connector = _connector(his)
    try:
        receipt = await connector.deliver(env)
    finally:
        await connector.close()
    assert receipt.delivered
    [got] = his.state.received("H0001", 10)
    assert got.message_type == "DFT^P03" and got.key == env.control_id
    message = parse(got.raw)
    assert message.get("FT1-2") == "T0001" and message.get("FT1-11.1.1") == "10.00"
