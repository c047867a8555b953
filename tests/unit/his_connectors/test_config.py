from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from his_connectors import ConfigError, load_destinations, parse_destinations

GOOD = """
[hospitals.H0001]
name = "Demo hospital (synthetic)"

[[hospitals.H0001.destinations]]
name = "adt"
connector = "mllp"
endpoint = "mllp://127.0.0.1:2576"
topics = ["patient.*"]
encoding = "gbk"
hl7_version = "2.4"
profile = "legacy_cn_his"

[[hospitals.H0001.destinations]]
name = "hook"
connector = "webhook"
endpoint = "http://127.0.0.1:9/hook"
topics = ["patient.merged"]
secret_file = "hook.secret"

[hospitals.H0002]
[[hospitals.H0002.destinations]]
name = "table"
connector = "sql_table"
endpoint = "sqlite+aiosqlite:///his.sqlite"
table = "hl_patient_out"
inbound_table = "hl_patient_in"
"""


def test_a_good_file_parses_into_destinations(tmp_path: Path) -> None:
    (tmp_path / "hook.secret").write_text("s3cret\n", encoding="utf-8")
    path = tmp_path / "connectors.toml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_destinations(path)
    assert list(config.hospitals) == ["H0001", "H0002"]
    adt, hook = config.hospitals["H0001"].destinations
    assert (adt.code, adt.encoding, adt.hl7_version, adt.profile) == (
        "H0001:adt",
        "gbk",
        "2.4",
        "legacy_cn_his",
    )
    assert hook.secret == "s3cret" and "secret" not in hook.public()
    assert [d.code for d in config.subscribers("patient.merged")] == [
        "H0001:adt",
        "H0001:hook",
        "H0002:table",
    ]
    assert [d.code for d in config.subscribers("patient.created")] == ["H0001:adt", "H0002:table"]
    assert config.subscribers("payment.settled") == []
    assert config.by_code()["H0002:table"].inbound_table == "hl_patient_in"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('connector = "mllp"', "connector must be one of"),
        ('endpoint = "mllp://127.0.0.1:2576"', "endpoint must start with"),
        ('encoding = "gbk"', "not a known encoding"),
        ('hl7_version = "2.4"', "hl7_version must be one of"),
        ('profile = "legacy_cn_his"', "no HL7 profile"),
    ],
)
def test_mistakes_say_where(change: str, message: str) -> None:
    key, _, _ = change.partition(" = ")
    broken = GOOD.replace(change, f'{key} = "nonsense"', 1)
    import tomllib

    with pytest.raises(ConfigError, match=message) as caught:
        parse_destinations(tomllib.loads(broken))
    assert "hospitals.H0001.destinations[0]" in str(caught.value)


def test_other_mistakes() -> None:
    with pytest.raises(ConfigError, match="unknown top-level"):
        parse_destinations({"hospital": {}})
    with pytest.raises(ConfigError, match="needs secret_file"):
        parse_destinations(
            {"hospitals": {"H1": {"destinations": [{"connector": "webhook", "endpoint": "http://x"}]}}}
        )
    with pytest.raises(ConfigError, match="plain SQL identifier"):
        parse_destinations(
            {
                "hospitals": {
                    "H1": {
                        "destinations": [
                            {
                                "connector": "sql_table",
                                "endpoint": "sqlite+aiosqlite:///x",
                                "table": "t; drop",
                            }
                        ]
                    }
                }
            }
        )
    dup = {"connector": "mllp", "endpoint": "mllp://h:1"}
    with pytest.raises(ConfigError, match="unique"):
        parse_destinations({"hospitals": {"H1": {"destinations": [dup, dup]}}})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_destinations(Path(__file__))


def test_a_password_in_an_endpoint_is_not_listed() -> None:
    config = parse_destinations(
        {
            "hospitals": {
                "H1": {
                    "destinations": [
                        {"connector": "sql_table", "endpoint": "postgresql+asyncpg://his:pw@db/his"}
                    ]
                }
            }
        }
    )
    assert config.destinations[0].public()["endpoint"] == "postgresql+asyncpg://his:***@db/his"


def test_an_mllp_destination_hears_only_topics_its_profile_can_send() -> None:
    config = parse_destinations(
        tomllib.loads(
            """
[hospitals.H0003]
[[hospitals.H0003.destinations]]
name = "adt"
connector = "mllp"
endpoint = "mllp://127.0.0.1:2576"
topics = ["pharmacy.*", "patient.*"]

[[hospitals.H0003.destinations]]
name = "hook"
connector = "webhook"
endpoint = "http://127.0.0.1:9/hook"
topics = ["pharmacy.*"]
secret = "s3cret"
"""
        )
    )
    # No HL7 message renders a prescription: MLLP would only dead-letter it, the webhook carries it.
    assert [d.code for d in config.subscribers("pharmacy.prescribed")] == ["H0003:hook"]
    assert [d.code for d in config.subscribers("pharmacy.dispensed")] == ["H0003:adt", "H0003:hook"]
