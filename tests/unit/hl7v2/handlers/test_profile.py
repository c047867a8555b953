"""Each sender's SenderProfile for the mappings: from the sender file, else from MSH-4."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.hl7v2.handlers import sender_profile
from adapter.hl7v2.senders import SenderConfig, SenderTable, load_senders
from mappings.v2_to_fhir import SenderProfile

SENDERS = """
[senders."HIS^H001"]
charset = "gbk"
hospital_code = "BZRMYY"
identifier_types = { "PI@BZRMYY" = "outpatient-number", "Card" = "urn:example:card" }
z_segments = { ZPI = "urn:example:zpi" }
"""


def test_the_sender_file_gives_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "senders.toml"
    path.write_text(SENDERS, encoding="utf-8")
    profile = sender_profile(load_senders(path).lookup("HIS^H001"))
    assert profile.hospital_code == "BZRMYY"
    assert dict(profile.identifier_types) == {"PI@BZRMYY": "outpatient-number", "Card": "urn:example:card"}
    assert dict(profile.z_segments) == {"ZPI": "urn:example:zpi"}


@pytest.mark.parametrize(
    "bad",
    ['identifier_types = { "PI" = "no-such-key" }', 'identifier_types = "PI"', "z_segments = [1]"],
)
def test_a_bad_profile_setting_stops_the_start(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "senders.toml"
    path.write_text(f'[senders."HIS^H001"]\n{bad}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="HIS\\^H001"):
        load_senders(path)


def test_without_a_hospital_code_msh_4_is_the_hospital_when_it_can_be_one() -> None:
    assert sender_profile(SenderTable().lookup("HIS^H002")).hospital_code == "H002"
    assert sender_profile(SenderConfig("HIS^协和", "gb18030")).hospital_code == ""


def test_a_profile_is_derived_once_per_sender_and_never_mixed_up() -> None:
    table = SenderTable()
    config = table.lookup("HIS^H003")
    assert sender_profile(config) is sender_profile(config)
    assert sender_profile(config).hospital_code == "H003"
    # Another config object with the same key but a profile of its own gets that profile.
    configured = SenderConfig("HIS^H003", "utf-8", profile=SenderProfile(hospital_code="BZRMYY"))
    assert sender_profile(configured).hospital_code == "BZRMYY"
    assert sender_profile(config).hospital_code == "H003"
