"""The lab hand-off: Bundle and OML^O21 per closed tube, results back, recalls with phones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapter.errors import InsufficientScope, InvalidRequest, TubeNotClosed, TubeNotFound
from adapter.sampling import RegistrationRequest, SamplingService
from adapter.sampling.lab import (
    REGISTRATION_SYSTEM,
    TUBE_SYSTEM,
    oml_messages,
    result_from_oru,
    result_from_report,
    tube_bundle,
)
from adapter.sampling.results import list_tubes, recalls, record_result
from adapter.storage import MemoryStorage
from adapter.storage.records import SamplingRegistration, SamplingTube
from mappings.hl7v2 import parse
from tests.r4 import assert_valid_r4
from tests.unit.sampling.fakes import PHARMACY, SAMPLER, FakeScanner, make_service

AT = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
TUBE = SamplingTube("TUBE0001", "R1", "P01", 10, AT, filled=2, status="closed", closed_at=AT)
MEMBERS = [
    SamplingRegistration(f"reg{n}", "TUBE0001", n, f"pat-{n}", "R1", "P01", AT, "client", "张*")
    for n in (1, 2)
]


def test_the_bundle_is_a_valid_r4_transaction_with_one_order_per_member() -> None:
    bundle = tube_bundle(TUBE, MEMBERS)
    assert_valid_r4(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Specimen", "ServiceRequest", "ServiceRequest"]
    specimen_url = bundle["entry"][0]["fullUrl"]
    orders = [e["resource"] for e in bundle["entry"][1:]]
    assert [o["subject"]["reference"] for o in orders] == ["Patient/pat-1", "Patient/pat-2"]
    assert all(o["specimen"] == [{"reference": specimen_url}] for o in orders)
    assert bundle["entry"][0]["resource"]["identifier"] == [{"system": TUBE_SYSTEM, "value": "TUBE0001"}]
    assert bundle["entry"][1]["request"]["ifNoneExist"] == f"identifier={REGISTRATION_SYSTEM}|reg1"
    assert tube_bundle(TUBE, MEMBERS) == bundle  # stable: a re-delivery is the same transaction


def test_one_oml_o21_per_member_with_the_tube_as_placer_group_and_specimen() -> None:
    texts = oml_messages(TUBE, MEMBERS, sender="P01")
    assert len(texts) == 2
    first = parse(texts[0])
    assert first.get("MSH-9.1") == "OML" and first.get("MSH-9.2") == "O21" and first.get("MSH-12") == "2.5.1"
    assert first.get("PID-3.1") == "pat-1"
    assert first.get("ORC-4.1") == "TUBE0001" and first.get("SPM-2.1") == "TUBE0001"
    assert first.get("OBR-4.1") == "94500-6"


ORU = (
    "MSH|^~\\&|LAB|L1|DUALCODE|P01|20261129120000||ORU^R01^ORU_R01|M1|P|2.5.1\r"
    "PID|1||pat-1^^^DUALCODE^PI\r"
    "ORC|RE|reg1^DUALCODE||TUBE0001^DUALCODE\r"
    "OBR|1|reg1^DUALCODE||94500-6^SARS-CoV-2 RNA^LN\r"
    "OBX|1|CWE|94500-6^SARS-CoV-2 RNA^LN||{result}||||||F\r"
    "SPM|1|TUBE0001^DUALCODE\r"
)


@pytest.mark.parametrize(
    ("word", "result"), [("POS", "positive"), ("阴性", "negative"), ("260373001", "positive")]
)
def test_results_are_read_from_oru_r01(word: str, result: str) -> None:
    assert result_from_oru(ORU.format(result=word)) == ("TUBE0001", result)


def test_results_are_read_from_a_diagnostic_report() -> None:
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "SARS-CoV-2 RNA"},
        "specimen": [{"identifier": {"system": TUBE_SYSTEM, "value": "TUBE0001"}}],
        "conclusionCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]}],
    }
    assert result_from_report(report) == ("TUBE0001", "positive")
    assert result_from_report({**report, "conclusionCode": [], "conclusion": "Negative"}) == (
        "TUBE0001",
        "negative",
    )
    for bad in (
        {**report, "conclusion": "maybe", "conclusionCode": []},
        {**report, "specimen": []},
        {"a": 1},
    ):
        with pytest.raises(InvalidRequest):
            result_from_report(bad)
    with pytest.raises(InvalidRequest):
        result_from_oru("MSH|^~\\&|LAB|L1|X|Y|20261129||ADT^A01|M1|P|2.5.1\r")


async def _closed_tube_with_two(storage: MemoryStorage, service: SamplingService) -> None:
    async with storage.unit_of_work() as uow:
        for n, phone in ((1, "13812345678"), (2, None)):
            body = {"resourceType": "Patient", "id": f"pat-{n}", "name": [{"text": "王小明"}]}
            if phone:
                body["telecom"] = [{"system": "phone", "value": phone}]
            await uow.resources.create(body)
    for n in (1, 2):
        await service.register(
            RegistrationRequest(code=f"P{n}", tube="TUBE0001", point="P01", pool_size=10), SAMPLER
        )


async def test_a_positive_tube_recalls_every_member_with_phone() -> None:
    storage = MemoryStorage()
    service = make_service(storage, FakeScanner())
    await _closed_tube_with_two(storage, service)
    with pytest.raises(TubeNotClosed):
        await record_result(service, "TUBE0001", "positive", SAMPLER)
    closed = await service.close("TUBE0001", SAMPLER)
    with pytest.raises(TubeNotFound):
        await record_result(service, "TUBE9999", "positive", SAMPLER)
    listed = await list_tubes(service, SAMPLER, status="closed", since=None, round_name=None, limit=10)
    assert [t["tube"] for t in listed] == ["TUBE0001"]
    since = closed.closed_at.isoformat() if closed.closed_at else ""
    assert await list_tubes(service, SAMPLER, status="closed", since=since, round_name=None, limit=10)
    assert (await record_result(service, "TUBE0001", "positive", SAMPLER)).result == "positive"
    answer = await recalls(service, "2026-11-29", SAMPLER)
    assert answer["people"] == 2
    members = answer["tubes"][0]["members"]
    assert [(m["patient"], m["phone"], m["name_masked"]) for m in members] == [
        ("Patient/pat-1", "13812345678", "王**"),
        ("Patient/pat-2", None, "王**"),
    ]
    await service.audit_writer.flush()
    async with storage.unit_of_work(read_only=True) as uow:
        audited = await uow.audit.search(patient_id="pat-1")
        topics = [e.topic for e in await uow.outbox.list()]
    assert "sampling recall" in {r.operation for r in audited}
    assert topics == ["sampling.tube-closed", "sampling.tube-positive"]
    with pytest.raises(InsufficientScope):
        await recalls(service, "2026-11-29", PHARMACY)
    assert (await recalls(service, "another round", SAMPLER))["people"] == 0


async def test_listing_checks_its_parameters() -> None:
    service = make_service(MemoryStorage(), FakeScanner())
    for status, since in (("lost", None), (None, "yesterday"), (None, "2026-11-29T08:00:00")):
        with pytest.raises(InvalidRequest):
            await list_tubes(service, SAMPLER, status=status, since=since, round_name=None, limit=10)
