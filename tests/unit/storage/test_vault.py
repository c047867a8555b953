from __future__ import annotations

import os

import pytest

from adapter.storage.vault import KeyMaterialError, Vault, VaultError


def _vault(active: str = "k1", **keys: bytes) -> Vault:
    return Vault(keys or {"k1": bytes(32)}, active=active, blind_index_key=b"i" * 32)


def test_round_trip_with_aad() -> None:
    vault = Vault.generate()
    blob = vault.encrypt("测试甲".encode(), aad=b"Patient/1/1")
    assert "测试甲".encode() not in blob
    assert vault.decrypt(blob, aad=b"Patient/1/1") == "测试甲".encode()
    assert vault.key_id(blob) == "k1"


def test_nonces_differ_so_equal_values_do_not_look_equal() -> None:
    vault = Vault.generate()
    assert vault.encrypt(b"same", aad=b"a") != vault.encrypt(b"same", aad=b"a")


def test_wrong_aad_or_tampering_fails() -> None:
    vault = Vault.generate()
    blob = vault.encrypt(b"secret", aad=b"Patient/1/1")
    with pytest.raises(VaultError):
        vault.decrypt(blob, aad=b"Patient/2/1")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(VaultError):
        vault.decrypt(tampered, aad=b"Patient/1/1")
    with pytest.raises(VaultError):
        vault.decrypt(b"\x02garbage", aad=b"")
    with pytest.raises(VaultError):
        vault.decrypt(blob[:10], aad=b"Patient/1/1")


def test_relabelled_key_id_does_not_decrypt() -> None:
    key = os.urandom(32)
    vault = _vault("k1", k1=key, k2=key)  # even with the same key material under both ids
    blob = vault.encrypt(b"secret", aad=b"x")
    relabelled = blob[:2] + b"k2" + blob[4:]
    with pytest.raises(VaultError):
        vault.decrypt(relabelled, aad=b"x")


def test_rotation_old_keys_still_decrypt_new_writes_use_active() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = _vault("2023", **{"2023": old_key})
    old_blob = before.encrypt(b"written in 2023", aad=b"x")
    after = _vault("2024", **{"2023": old_key, "2024": new_key})
    assert after.decrypt(old_blob, aad=b"x") == b"written in 2023"
    assert after.key_id(after.encrypt(b"new", aad=b"x")) == "2024"
    retired = _vault("2024", **{"2024": new_key})
    with pytest.raises(VaultError, match="not loaded"):
        retired.decrypt(old_blob, aad=b"x")


def test_blind_index_is_keyed_and_deterministic() -> None:
    one = Vault({"k": bytes(32)}, active="k", blind_index_key=b"a" * 32)
    other = Vault({"k": bytes(32)}, active="k", blind_index_key=b"b" * 32)
    digest = one.blind_index("11010519491231002X")
    assert digest == one.blind_index("11010519491231002X")
    assert digest != one.blind_index("11010519491231002x")
    assert digest != other.blind_index("11010519491231002X")
    assert len(digest) == 43 and "11010519491231002X" not in digest


@pytest.mark.parametrize(
    ("keys", "active", "index_key"),
    [
        ({"k1": bytes(32)}, "k2", b"i" * 32),  # active not loaded
        ({"k1": bytes(16)}, "k1", b"i" * 32),  # AES-128 is not enough
        ({"": bytes(32)}, "", b"i" * 32),  # empty key id
        ({"ключ": bytes(32)}, "ключ", b"i" * 32),  # non-ASCII key id
        ({"k1": bytes(32)}, "k1", b"short"),  # weak index key
    ],
)
def test_bad_key_material_is_refused(keys: dict[str, bytes], active: str, index_key: bytes) -> None:
    with pytest.raises(KeyMaterialError):
        Vault(keys, active=active, blind_index_key=index_key)
