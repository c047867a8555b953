"""HL7 v2 rendering beyond ADT: a closed tube as OML^O21 messages, and the cache that renders an event
once for all hospitals (only MSH-6 and MSH-10 differ between them)."""

from __future__ import annotations

import dataclasses

import pytest

from his_connectors import RenderError, load_profile
from his_connectors import hl7 as hl7_module
from his_connectors.hl7 import render_v2, render_v2_batch
from mappings.hl7v2 import parse
from tests.unit.his_connectors.samples import envelope, patient
from tests.unit.his_connectors.tube_samples import tube_closed

DEFAULT = load_profile("default")


def test_a_closed_tube_is_one_oml_o21_per_member_addressed_to_the_hospital() -> None:
    messages = render_v2_batch(tube_closed(3), profile=DEFAULT, version="2.5", encoding="gbk")
    assert [control_id for control_id, _ in messages] == ["reg0001", "reg0002", "reg0003"]
    for n, (control_id, text) in enumerate(messages, 1):
        message = parse(text)
        assert (message.message_type, message.trigger_event) == ("OML", "O21")
        assert message.control_id == control_id  # stable: the registration, the same on every retry
        assert message.header.value(6) == "H0001"  # MSH-6: the hospital
        assert message.header.value(18) == ""  # GBK: as the destination's charset says
        assert message.get("PID-3.1") == f"p{n}" and message.get("ORC-4.1") == "TUBE0001"
    with pytest.raises(RenderError, match="several messages"):
        render_v2(tube_closed(), profile=DEFAULT, version="2.5", encoding="utf-8")
    empty = dataclasses.replace(tube_closed(), payload={"tube": "TUBE0001"})
    with pytest.raises(RenderError, match="no OML"):
        render_v2_batch(empty, profile=DEFAULT, version="2.5", encoding="utf-8")


def test_other_events_are_one_message() -> None:
    [(control_id, text)] = render_v2_batch(envelope(), profile=DEFAULT, version="2.5", encoding="utf-8")
    assert control_id == envelope().control_id and parse(text).trigger_event == "A04"


def _uncached(env: object) -> str:
    hl7_module._rendered.clear()
    return render_v2(env, profile=DEFAULT, version="2.5", encoding="utf-8")  # type: ignore[arg-type]


def test_one_event_for_several_hospitals_renders_as_if_each_were_alone() -> None:
    first = envelope("patient.updated", hospital="H0001", event_id="1" * 32)
    second = envelope("patient.updated", hospital="H0002", event_id="2" * 32)
    alone = [_uncached(first), _uncached(second)]
    hl7_module._rendered.clear()
    shared = [render_v2(e, profile=DEFAULT, version="2.5", encoding="utf-8") for e in (first, second)]
    assert len(hl7_module._rendered) == 1  # rendered once
    assert shared == alone
    assert parse(shared[1]).header.value(6) == "H0002" and parse(shared[1]).control_id == "2" * 20
    # Another body (a later version of the patient) is never served from the cache.
    changed = dataclasses.replace(second, resources={"patient": patient(1, family="李")}, event_id="3" * 32)
    assert parse(render_v2(changed, profile=DEFAULT, version="2.5", encoding="utf-8")).get("PID-5.1") == "李"
    # Profile quirks (Z-segments naming the event) still apply per destination.
    legacy = load_profile("legacy_cn_his")
    texts = [render_v2(e, profile=legacy, version="2.4", encoding="gbk") for e in (first, second)]
    assert [parse(t).segment("ZPI").value(3) for t in texts] == ["H0001", "H0002"]


def test_a_hospital_code_that_needs_escaping_is_rendered_on_its_own() -> None:
    odd = envelope(hospital="H|1")
    hl7_module._rendered.clear()
    text = render_v2(odd, profile=DEFAULT, version="2.5", encoding="utf-8")
    assert parse(text).header.value(6) == "H|1" and hl7_module._rendered == {}
