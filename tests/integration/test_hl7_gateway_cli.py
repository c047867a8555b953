"""`dualcode messages replay` and `dualcode messages prune` on a SQLite database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.settings import load_settings
from adapter.storage import migrate, open_storage
from adapter.storage.keys import load_vault
from tests.unit.hl7v2.samples import adt


@pytest.fixture
def env_file(tmp_path: Path) -> str:
    path = tmp_path / "dualcode.env"
    path.write_text(
        f"DUALCODE_DATABASE_URL=sqlite+aiosqlite:///{tmp_path}/db.sqlite\n"
        f"DUALCODE_DATA_KEYS_FILE={tmp_path}/keys/data.json\n"
        f"DUALCODE_BLIND_INDEX_KEY_FILE={tmp_path}/keys/blind.key\n"
        f"DUALCODE_TOKEN_SIGNING_KEY_FILE={tmp_path}/keys/token.key\n",
        encoding="utf-8",
    )
    return str(path)


async def _seed(env_file: str) -> None:
    settings = load_settings(env_file)
    await migrate(settings.database_url)
    storage = open_storage(settings, load_vault(settings))
    try:
        async with storage.unit_of_work() as uow:
            for n in range(3):
                raw = adt(f"C{n}", patient=f"P{n}").encode()
                await uow.messages.add(sender="HIS^H001", control_id=f"C{n}", raw=raw, message_type="ADT^A04")
    finally:
        await storage.close()


def test_replay_then_prune(env_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_seed(env_file))
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert main(["messages", "replay", "--since", since, "--env-file", env_file]) == 0
    assert json.loads(capsys.readouterr().out) == {"replayed": 3, "outcomes": {"processed": 3}}
    assert main(["messages", "replay", "--since", "2026-01-01T00:00:00", "--env-file", env_file]) == 2
    assert main(["messages", "prune", "--env-file", env_file]) == 2  # no policy configured
    capsys.readouterr()
    assert main(["messages", "prune", "--max-bytes", "1", "--env-file", env_file]) == 0
    assert json.loads(capsys.readouterr().out) == {"pruned": 3}
