"""`dualcode connectors check|list` and `dualcode outbox list|retry` (in-process, SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.settings import Settings
from adapter.storage import SqlStorage, migrate
from adapter.storage.keys import load_vault
from sandbox.his import BackgroundHisMllp, HisState

FILE = """
[hospitals.H0001]
name = "Synthetic hospital"
[[hospitals.H0001.destinations]]
name = "adt"
connector = "mllp"
endpoint = "mllp://127.0.0.1:{port}"
timeout_s = 1
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUALCODE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/db.sqlite")
    for name, file in (
        ("DATA_KEYS", "data-keys.json"),
        ("BLIND_INDEX_KEY", "bi.key"),
        ("TOKEN_SIGNING_KEY", "t.key"),
    ):
        monkeypatch.setenv(f"DUALCODE_{name}_FILE", str(tmp_path / file))
    return tmp_path


def test_check_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    his = BackgroundHisMllp(HisState(), "127.0.0.1", 0).start()
    try:
        path = tmp_path / "connectors.toml"
        path.write_text(FILE.format(port=his.port), encoding="utf-8")
        assert main(["connectors", "check", "--file", str(path)]) == 0
        checked = json.loads(capsys.readouterr().out)
        detail = f"mllp://127.0.0.1:{his.port} connected"
        assert checked == {
            "valid": True,
            "destinations": [{"destination": "H0001:adt", "ok": True, "detail": detail}],
        }
    finally:
        his.stop()
    assert main(["connectors", "check", "--file", str(path)]) == 1  # the HIS is gone
    assert json.loads(capsys.readouterr().out)["destinations"][0]["ok"] is False
    assert main(["connectors", "check", "--no-connect", "--file", str(path)]) == 0
    capsys.readouterr()
    assert main(["connectors", "list", "--json", "--file", str(path)]) == 0
    [hospital] = json.loads(capsys.readouterr().out)
    assert hospital["hospital"] == "H0001" and hospital["destinations"][0]["code"] == "H0001:adt"
    path.write_text("[hospitals.H0001]\n[[hospitals.H0001.destinations]]\nconnector = 'carrier-pigeon'\n")
    assert main(["connectors", "check", "--file", str(path)]) == 2
    assert "connector must be one of" in capsys.readouterr().err


def test_outbox_retry_dead(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    async def prepare() -> str:
        settings = Settings()
        await migrate(settings.database_url)
        storage = SqlStorage(settings.database_url, load_vault(settings))
        try:
            async with storage.unit_of_work() as uow:
                event = await uow.outbox.add(
                    topic="patient.updated", destination="H0001:adt", ordering_key="Patient/x", payload={}
                )
            async with storage.unit_of_work() as uow:
                await uow.outbox.claim(limit=1, now=event.created_at, lease_s=1)
                await uow.outbox.mark_failed(event.id, error="AE: refused", retry_at=None)
            return event.id
        finally:
            await storage.close()

    event_id = asyncio.run(prepare())
    assert main(["outbox", "list", "--status", "dead"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == event_id and listed["lastError"] == "AE: refused" and "payload" not in listed
    assert main(["outbox", "retry", "--dead"]) == 0
    assert json.loads(capsys.readouterr().out) == {"retried": 1}
    assert main(["outbox", "list", "--status", "pending"]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [event_id]
    assert main(["outbox", "run"]) == 2  # no destinations file: no dispatcher
