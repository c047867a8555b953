from __future__ import annotations

import pytest

from his_connectors import RenderError, available_profiles, load_profile
from his_connectors.hl7 import render_v2
from his_connectors.profiles import ProfileError, parse_profile
from mappings.hl7v2 import parse
from tests.unit.his_connectors.samples import envelope, patient


def test_profiles_ship_as_data() -> None:
    assert {"default", "legacy_cn_his"} <= set(available_profiles())
    with pytest.raises(ProfileError):
        load_profile("../etc/passwd")
    with pytest.raises(ProfileError, match="unknown keys"):
        parse_profile("x", {"colour": "blue"})
    with pytest.raises(ProfileError, match="z_segment"):
        parse_profile("x", {"z_segments": [{"name": "ZPI", "fields": ["patient.name"]}]})


def test_created_becomes_an_a04_with_a_stable_control_id() -> None:
    text = render_v2(envelope(), profile=load_profile("default"), version="2.5", encoding="utf-8")
    message = parse(text)
    assert (message.message_type, message.trigger_event) == ("ADT", "A04")
    assert message.control_id == "0123456789abcdef0123"  # the event id, cut to ST's 20 characters
    assert message.header.value(6) == "H0001" and message.header.value(18) == "UNICODE UTF-8"
    assert message.get("PID-3.1") == patient(1)["identifier"][0]["value"]
    assert message.get("PID-5.1") == "测"


def test_the_legacy_profile_applies_its_quirks() -> None:
    text = render_v2(
        envelope("patient.updated"), profile=load_profile("legacy_cn_his"), version="2.4", encoding="gbk"
    )
    message = parse(text)
    assert message.trigger_event == "A31" and message.version == "2.4"
    assert message.header.value(18) == ""  # GBK: MSH-18 left empty, as such a HIS expects
    assert message.get("PID-3.5") == "IDCard"
    assert message.get("PID-2.1") == message.get("PID-3.1")  # the ID number also where it reads it
    zpi = message.segment("ZPI")
    assert (zpi.value(1), zpi.value(2), zpi.value(3)) == ("p1", "patient.updated", "H0001")
    assert text.encode("gbk")  # Chinese text survives GBK


def test_a_merge_becomes_an_a40() -> None:
    env = envelope("patient.merged", patient=patient(1), target=patient(2))
    message = parse(render_v2(env, profile=load_profile("default"), version="2.5", encoding="utf-8"))
    assert message.trigger_event == "A40"
    assert message.get("PID-3.1") == patient(2)["identifier"][0]["value"]
    assert message.get("MRG-1.1") == patient(1)["identifier"][0]["value"]


def test_what_cannot_be_rendered_says_so() -> None:
    default = load_profile("default")
    with pytest.raises(RenderError, match="no HL7 event"):
        render_v2(envelope("payment.settled"), profile=default, version="2.5", encoding="utf-8")
    with pytest.raises(RenderError, match="no patient"):
        render_v2(
            envelope(encounter={"resourceType": "Encounter"}),
            profile=default,
            version="2.5",
            encoding="utf-8",
        )
    with pytest.raises(RenderError, match="surviving"):
        render_v2(envelope("patient.merged"), profile=default, version="2.5", encoding="utf-8")
