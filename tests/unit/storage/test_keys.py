from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapter.settings import Settings
from adapter.storage.keys import INLINE_KID, load_token_signing_key, load_vault
from adapter.storage.vault import KeyMaterialError


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_keys_file": tmp_path / "keys" / "data-keys.json",
        "blind_index_key_file": tmp_path / "keys" / "blind-index.key",
        "token_signing_key_file": tmp_path / "keys" / "token-signing.key",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def _b64(raw: bytes) -> SecretStr:
    return SecretStr(base64.b64encode(raw).decode())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_key_files_are_created_private_and_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    vault = load_vault(settings)
    blob = vault.encrypt(b"value", aad=b"a")
    for path in (settings.data_keys_file, settings.blind_index_key_file):
        assert _mode(path) == 0o600
    assert _mode(settings.data_keys_file.parent) & 0o077 == 0
    again = load_vault(settings)  # a restart reads the same keys
    assert again.decrypt(blob, aad=b"a") == b"value"
    assert again.blind_index("x") == vault.blind_index("x")
    document = json.loads(settings.data_keys_file.read_text())
    assert document["active"] in document["keys"]


def test_token_signing_key_is_created_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = load_token_signing_key(settings)
    assert len(key) == 32 and _mode(settings.token_signing_key_file) == 0o600
    assert load_token_signing_key(settings) == key


def test_missing_files_without_create_are_an_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path, create_missing_keys=False)
    with pytest.raises(KeyMaterialError, match="missing"):
        load_vault(settings)
    with pytest.raises(KeyMaterialError, match="missing"):
        load_token_signing_key(settings)
    assert not (tmp_path / "keys").exists()


def test_inline_keys_win_and_create_no_files(tmp_path: Path) -> None:
    data_key, index_key, signing_key = os.urandom(32), os.urandom(32), os.urandom(48)
    settings = _settings(
        tmp_path,
        data_key=_b64(data_key),
        blind_index_key=_b64(index_key),
        token_signing_key=_b64(signing_key),
        create_missing_keys=False,
    )
    vault = load_vault(settings)
    assert vault.active_kid == INLINE_KID
    assert load_token_signing_key(settings) == signing_key
    assert not (tmp_path / "keys").exists()


def test_inline_data_key_keeps_file_keys_for_decryption(tmp_path: Path) -> None:
    file_settings = _settings(tmp_path)
    old_blob = load_vault(file_settings).encrypt(b"old", aad=b"a")
    rotated = _settings(tmp_path, data_key=_b64(os.urandom(32)))
    vault = load_vault(rotated)
    assert vault.decrypt(old_blob, aad=b"a") == b"old"
    assert vault.key_id(vault.encrypt(b"new", aad=b"a")) == INLINE_KID


def test_rotation_through_the_key_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    old_blob = load_vault(settings).encrypt(b"old", aad=b"a")
    document = json.loads(settings.data_keys_file.read_text())
    document["keys"]["next"] = base64.b64encode(os.urandom(32)).decode()
    document["active"] = "next"
    settings.data_keys_file.write_text(json.dumps(document))
    vault = load_vault(settings)
    assert vault.decrypt(old_blob, aad=b"a") == b"old"
    assert vault.active_kid == "next"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"active": "a", "keys": {}}),
        json.dumps({"active": "a", "keys": {"a": "!!notbase64"}}),
        json.dumps({"active": "a", "keys": {"a": base64.b64encode(b"short").decode()}}),
        json.dumps(["a"]),
    ],
)
def test_malformed_data_key_files_are_refused(tmp_path: Path, content: str) -> None:
    settings = _settings(tmp_path)
    settings.data_keys_file.parent.mkdir(parents=True)
    settings.data_keys_file.write_text(content)
    with pytest.raises(KeyMaterialError):
        load_vault(settings)


def test_short_inline_index_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError):
        load_vault(_settings(tmp_path, blind_index_key=_b64(b"short")))


def test_processes_starting_together_end_up_with_one_key_set(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    settings = _settings(tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        vaults = list(pool.map(lambda _: load_vault(settings), range(8)))
    assert len({vault.blind_index("x") for vault in vaults}) == 1
    assert len({vault.active_kid for vault in vaults}) == 1
    assert sorted(p.name for p in settings.data_keys_file.parent.iterdir()) == [
        "blind-index.key",
        "data-keys.json",
    ]
