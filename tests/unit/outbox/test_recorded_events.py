"""Payment, settlement and pharmacy events: written by the DFT / RDE / RDS handlers in the unit of
work of the change itself, on the patient's ordering key, one per charge or dispense. Over the
in-memory store and real SQLite (a unit that fails midway leaves neither the change nor its event).
All data is synthetic (the golden messages of mappings.v2_to_fhir)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.hl7v2.handlers import ChargeHandler, DispenseHandler, PrescriptionHandler
from adapter.mpi import PatientIndex
from adapter.mpi.events import CHARGE_POSTED, DISPENSED, PRESCRIBED, SETTLEMENT_PAID
from adapter.outbox.dispatcher import Dispatcher
from adapter.storage import MemoryStorage, SqlStorage, Storage, Vault
from adapter.storage.records import OutboxEvent
from his_connectors import load_profile, parse_destinations
from his_connectors.fhir_rest import resource_bundle
from his_connectors.hl7 import render_v2
from his_connectors.webhook import body_of
from mappings.hl7v2 import parse
from tests.contract.storage.databases import sqlite_database
from tests.unit.hl7v2.handlers.support import context_of, golden, run, utf8
from tests.unit.outbox.fakes import RecordingConnector

DFT = "dft_p03_two_ft1"


async def _events(storage: Storage) -> list[OutboxEvent]:
    async with storage.unit_of_work(read_only=True) as uow:
        return await uow.outbox.list(limit=1000)


def _recorded(events: list[OutboxEvent]) -> list[OutboxEvent]:
    return [e for e in events if not e.topic.startswith("patient.")]


async def test_each_charge_of_a_dft_is_announced_on_the_patients_key() -> None:
    storage = MemoryStorage()
    result = await run(storage, ChargeHandler(PatientIndex()), golden(DFT))
    charges = [r for r in result.resources if r.startswith("ChargeItem/")]
    events = await _events(storage)
    recorded = _recorded(events)
    assert [e.topic for e in recorded] == [CHARGE_POSTED, CHARGE_POSTED]
    assert [f"{e.payload['resource']}/_history/{e.payload['resourceVersion']}" for e in recorded] == charges
    patient_ref = f"Patient/{result.patient_id}"
    assert {(e.destination, e.ordering_key, e.payload["patient"]) for e in recorded} == {
        ("*", patient_ref, patient_ref)
    }
    assert recorded[0].payload["versionId"] == int(result.resources[0].rsplit("/", 1)[1])
    # The patient's own events come first on the same key: a HIS hears of the person before the bill.
    assert events[0].topic == "patient.created" and events[0].seq < recorded[0].seq


async def test_a_payment_transaction_is_a_settlement_event() -> None:
    storage = MemoryStorage()
    raw = utf8(DFT, **{"|CG|110100001": "|PY|110100001"})
    await run(storage, ChargeHandler(PatientIndex()), raw)
    assert [e.topic for e in _recorded(await _events(storage))] == [SETTLEMENT_PAID, CHARGE_POSTED]


async def test_an_order_and_its_dispense_are_announced_once_each() -> None:
    storage, index = MemoryStorage(), PatientIndex()
    await run(storage, PrescriptionHandler(index), golden("rde_o11"))
    dispensed = await run(storage, DispenseHandler(index), golden("rds_o13"))
    recorded = _recorded(await _events(storage))
    # The RDS carries the order as context (RXE): only the dispense is announced for it.
    assert [e.topic for e in recorded] == [PRESCRIBED, DISPENSED]
    assert recorded[0].payload["resource"].startswith("MedicationRequest/")
    (dispense,) = [r for r in dispensed.resources if r.startswith("MedicationDispense/")]
    assert recorded[1].payload["resource"] == dispense.rsplit("/_history/", 1)[0]


@pytest.fixture
async def sqlite(tmp_path: Path) -> Storage:
    return SqlStorage(await sqlite_database(tmp_path), Vault.generate())


async def test_a_unit_failing_midway_leaves_neither_change_nor_event(sqlite: Storage) -> None:
    handler = ChargeHandler(PatientIndex())
    try:
        with pytest.raises(RuntimeError, match="midway"):
            async with sqlite.unit_of_work() as uow:
                result = await handler(context_of(golden(DFT)), uow)
                assert len(_recorded(await uow.outbox.list())) == 2  # written, not yet committed
                raise RuntimeError("the commit fails midway")
        async with sqlite.unit_of_work(read_only=True) as uow:
            assert await uow.resources.search("ChargeItem", []) == []
            assert await uow.outbox.list() == []
        # Committed: every charge has exactly its event, and no event names a charge that is not there.
        async with sqlite.unit_of_work() as uow:
            result = await handler(context_of(golden(DFT)), uow)
        async with sqlite.unit_of_work(read_only=True) as uow:
            stored = {f"ChargeItem/{c.id}" for c in await uow.resources.search("ChargeItem", [])}
            announced = [e.payload["resource"] for e in _recorded(await uow.outbox.list())]
        assert sorted(announced) == sorted(stored) and len(stored) == 2
        assert {r.split("/_history/")[0] for r in result.resources if r.startswith("ChargeItem/")} == stored
    finally:
        await sqlite.close()


async def test_subscribed_destinations_receive_them_renderable_by_every_connector() -> None:
    storage = MemoryStorage()
    await run(storage, ChargeHandler(PatientIndex()), golden(DFT))
    config = parse_destinations(
        {
            "hospitals": {
                "H1": {
                    "destinations": [{"name": "adt", "connector": "mllp", "endpoint": "mllp://127.0.0.1:9"}]
                },
                "H2": {
                    "destinations": [
                        {
                            "name": "bill",
                            "connector": "mllp",
                            "endpoint": "mllp://127.0.0.1:9",
                            "topics": ["patient.*", "payment.*", "settlement.*"],
                        }
                    ]
                },
            }
        }
    )
    h1, h2 = RecordingConnector(), RecordingConnector()
    dispatcher = Dispatcher(storage, config, connectors={"H1:adt": h1, "H2:bill": h2})
    for _ in range(10):
        await dispatcher.run_once()
    await dispatcher.stop()
    assert [e.topic for e in h1.received] == ["patient.created"]  # the default topics: patient.* only
    assert [e.topic for e in h2.received] == ["patient.created", CHARGE_POSTED, CHARGE_POSTED]
    charge = h2.received[1]
    assert charge.resources["resource"]["resourceType"] == "ChargeItem"
    assert charge.resources["patient"]["resourceType"] == "Patient"
    # MLLP: DFT^P03 with the FT1 of that charge.
    text = render_v2(charge, profile=load_profile("default"), version="2.5", encoding="utf-8")
    message = parse(text)
    assert (message.message_type, message.trigger_event) == ("DFT", "P03")
    assert message.get("FT1-2") == charge.resources["resource"]["identifier"][0]["value"]
    assert message.header.value(6) == "H2" and message.control_id == charge.control_id
    # Webhook (and the intermediate table's document): the event with the ChargeItem.
    document = json.loads(body_of(charge))
    assert (
        document["topic"] == CHARGE_POSTED
        and document["resources"]["resource"]["resourceType"] == "ChargeItem"
    )
    # FHIR REST: a transaction of the Patient and the charge, keyed on identifiers, not on our ids.
    bundle = resource_bundle(charge)
    assert isinstance(bundle, dict)
    patient_put, charge_put = (entry["request"] for entry in bundle["entry"])
    assert patient_put["method"] == charge_put["method"] == "PUT"
    assert charge_put["url"].startswith("ChargeItem?identifier=urn%3Adualcode%3Aresource%7CChargeItem%2F")
    body = bundle["entry"][1]["resource"]
    assert body["subject"]["reference"] == f"Patient?{patient_put['url'].split('?', 1)[1]}"
    assert "id" not in body and "context" not in body  # our Encounter id means nothing to the HIS
