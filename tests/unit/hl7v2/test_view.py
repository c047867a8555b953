"""What the message API shows: masked text for non-admins, the MSH's reading, the outcome."""

from __future__ import annotations

from datetime import UTC, datetime

from adapter.hl7v2.ackmodes import AckPlan, ack_code
from adapter.hl7v2.msh import read_msh
from adapter.hl7v2.senders import SenderConfig
from adapter.hl7v2.view import mask_hl7, message_view
from adapter.storage.records import StoredMessage
from tests.unit.hl7v2.samples import adt

ID_NUMBER = "11010519491231002X"


def stored(raw: bytes) -> StoredMessage:
    return StoredMessage("m1", "HIS^H001", "C1", datetime(2026, 11, 29, tzinfo=UTC), raw, "ADT^A04")


def test_names_addresses_phones_and_id_numbers_are_masked() -> None:
    text = adt("C1", patient=ID_NUMBER, family="欧阳", given="三丰")
    masked = mask_hl7(text)
    pid = next(s for s in masked.split("\r") if s.startswith("PID")).split("|")
    assert pid[5] == "欧*^三*" and pid[11] == "R*** *^^C***"
    assert ID_NUMBER not in masked and "13812345678" not in masked
    assert masked.split("\r")[0] == text.split("\r")[0]  # MSH is not personal data


def test_admin_sees_the_text_and_everyone_sees_the_parse() -> None:
    raw = adt("C1", family="欧阳").encode("gbk")
    view = message_view(stored(raw), "gb18030", unmasked=True)
    assert "欧阳" in view["raw"] and view["raw_masked"] is False
    assert view["parse"]["message_type"] == "ADT^A04" and view["parse"]["version"] == "2.5"
    assert view["parse"]["segments"] == ["MSH", "EVN", "PID", "PV1"]
    masked = message_view(stored(raw), "gb18030", unmasked=False)
    assert "欧*^J***" in masked["raw"] and "欧阳" not in masked["raw"] and masked["raw_masked"] is True
    broken = message_view(stored(b"garbage"), "utf-8", unmasked=False)
    assert broken["parse"] == {"ok": False, "error": "DC-4002", "message": broken["parse"]["message"]}


def test_ack_plans() -> None:
    config = SenderConfig("HIS^H001", "utf-8")
    original = AckPlan.for_message(read_msh(adt("C1").encode()), config)
    assert not original.enhanced and original.wants_application("AE") and not original.wants_commit(True)
    forced = AckPlan.for_message(
        read_msh(adt("C1").encode()), SenderConfig("K", "utf-8", ack_mode="enhanced")
    )
    assert forced.enhanced and forced.wants_commit(True) and forced.wants_application("AA")
    su = AckPlan.for_message(read_msh(adt("C1", accept="SU", application_ack="ER").encode()), config)
    assert su.wants_commit(True) and not su.wants_commit(False)
    assert su.wants_application("AE") and not su.wants_application("AA")
    assert ack_code(b"MSH|^~\\&|A\rMSA|CA|C1\r") == "CA" and ack_code(b"nothing") == ""
