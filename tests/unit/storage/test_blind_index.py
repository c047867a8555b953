"""The blind index is HMAC-SHA256 of the text, URL-safe base64 without padding: stored hashes of
every database written so far must stay findable, whatever the implementation computes it with."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from adapter.storage import Vault


def _reference(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize("key", [bytes(range(32)), b"\xff" * 64, bytes(range(200))])  # short, block, long
@pytest.mark.parametrize("text", ["", "1\x00urn:oid:1.2\x00110105199001011234", "0\x00张伟", "x" * 1000])
def test_blind_index_is_hmac_sha256_in_urlsafe_base64(key: bytes, text: str) -> None:
    vault = Vault({"k1": bytes(32)}, active="k1", blind_index_key=key)
    assert vault.blind_index(text) == _reference(key, text)
    assert vault.blind_index(text) == vault.blind_index(text)  # no state carried between calls
    assert len(vault.blind_index(text)) == 43
