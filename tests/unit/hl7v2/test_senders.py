"""Per-sender configuration files and the allow-lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.errors import SenderNotAllowed
from adapter.hl7v2.access import AllowList, common_name
from adapter.hl7v2.handler import Peer
from adapter.hl7v2.senders import load_senders, sender_key

TOML = """
[senders."HIS^H001"]
charset = "GBK"
ack_mode = "original"
allowed = ["10.1.2.0/24", "cn:his.h001"]

[senders."LIS^H001"]
"""


def test_toml_yaml_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(TOML, encoding="utf-8")
    (tmp_path / "s.yaml").write_text('senders:\n  "HIS^H001": {charset: gbk}\n', encoding="utf-8")
    (tmp_path / "s.json").write_text('{"senders": {"HIS^H001": {"ack_mode": "enhanced"}}}', encoding="utf-8")
    table = load_senders(tmp_path / "s.toml")
    his = table.lookup("HIS^H001")
    assert (his.codec, his.ack_mode, his.known) == ("gb18030", "original", True)
    assert table.lookup("LIS^H001").codec == "utf-8"
    assert not table.lookup("PACS^H001").known
    assert load_senders(tmp_path / "s.yaml").lookup("HIS^H001").codec == "gb18030"
    assert load_senders(tmp_path / "s.json").lookup("HIS^H001").ack_mode == "enhanced"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[senders."HIS"]\n', r"application\^facility"),
        ('[senders."HIS^H"]\ncharst = "gbk"\n', "unknown settings"),
        ('[senders."HIS^H"]\ncharset = "klingon"\n', "unsupported HL7 character set"),
        ('[senders."HIS^H"]\nack_mode = "sometimes"\n', "ack_mode"),
        ('[senders."HIS^H"]\nallowed = ["not-an-address"]\n', "not an address"),
    ],
)
def test_a_bad_file_is_refused_at_start_up(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=complaint):
        load_senders(path)


def test_sender_allow_list_and_known_senders(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(TOML, encoding="utf-8")
    table = load_senders(tmp_path / "s.toml", require_known=True)
    his = table.lookup("HIS^H001")
    table.check(his, Peer("10.1.2.3", 5000))
    table.check(his, Peer("192.0.2.1", 5000, common_name="his.h001"))
    table.check(his, None)  # a replay from the store has no peer
    with pytest.raises(SenderNotAllowed):
        table.check(his, Peer("10.9.9.9", 5000))
    with pytest.raises(SenderNotAllowed):
        table.check(table.lookup("UNKNOWN^X"), Peer("10.1.2.3", 5000))
    load_senders(None).check(load_senders(None).lookup("UNKNOWN^X"), Peer("10.1.2.3", 1))


def test_allow_list_entries() -> None:
    allowed = AllowList.parse(["127.0.0.1", "10.0.0.0/8", "cn:lab", " ", "::1"])
    assert allowed.allows(Peer("127.0.0.1", 1)) and allowed.allows(Peer("10.20.30.40", 1))
    assert allowed.allows(Peer("::ffff:10.1.1.1", 1))  # IPv4 seen through a dual-stack socket
    assert allowed.allows(Peer("::1", 1)) and allowed.allows(Peer("203.0.113.9", 1, common_name="lab"))
    assert not allowed.allows(Peer("203.0.113.9", 1)) and not allowed.allows(Peer("unknown", 0))
    assert AllowList.parse([]).allows(Peer("203.0.113.9", 1))


def test_sender_key_uses_namespace_ids() -> None:
    assert sender_key("HIS", "H001^1.2.156.1^ISO") == "HIS^H001"


def test_common_name_of_a_peer_certificate() -> None:
    cert = {"subject": ((("countryName", "CN"),), (("commonName", "his.h001"),))}
    assert common_name(cert) == "his.h001"
    assert common_name(None) is None and common_name({"subject": ()}) is None


def test_a_sender_not_in_the_file_gets_one_defaults_object_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    table = load_senders(None, default_codec="gb18030")
    first = table.lookup("HIS^H009")
    assert table.lookup("HIS^H009") is first  # what is derived from it (its profile) is derived once
    assert (first.key, first.codec, first.known) == ("HIS^H009", "gb18030", False)
    other = table.lookup("LIS^H009")
    assert other is not first and other.key == "LIS^H009"
    monkeypatch.setattr("adapter.hl7v2.senders._UNKNOWN_KEPT", 2)
    table.lookup("A^1")  # a third key: the remembered defaults are dropped, never grow without bound
    assert len(table._unknown) <= 2
    again = table.lookup("HIS^H009")
    assert (again.key, again.codec, again.known) == ("HIS^H009", "gb18030", False)
