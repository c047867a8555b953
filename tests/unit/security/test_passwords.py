from __future__ import annotations

import pytest

from adapter.security.passwords import (
    ScryptParams,
    dummy_verify,
    generate_secret,
    hash_secret,
    needs_rehash,
    verify_secret,
)


def test_generated_secrets_are_long_random_and_url_safe() -> None:
    secrets = {generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(s) >= 43 and s.replace("-", "").replace("_", "").isalnum() for s in secrets)


def test_hash_then_verify() -> None:
    stored = hash_secret("s3cret-value")
    assert stored.startswith("scrypt$n=16384,r=8,p=1$")
    assert "s3cret-value" not in stored
    assert verify_secret("s3cret-value", stored)


def test_a_wrong_secret_does_not_verify() -> None:
    stored = hash_secret("s3cret-value")
    assert not verify_secret("s3cret-valuE", stored)
    assert not verify_secret("", stored)


def test_the_same_secret_hashes_differently_each_time() -> None:
    assert hash_secret("same") != hash_secret("same")


def test_parameters_travel_with_the_hash() -> None:
    cheap = ScryptParams(n=2**10)
    stored = hash_secret("value", cheap)
    assert stored.startswith("scrypt$n=1024,r=8,p=1$")
    assert verify_secret("value", stored)
    assert needs_rehash(stored)
    assert not needs_rehash(hash_secret("value"))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text",
        "scrypt$n=16384,r=8,p=1$!!!$!!!",
        "scrypt$n=16383,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$n=1073741824,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_a_malformed_stored_hash_never_matches(stored: str) -> None:
    assert verify_secret("anything", stored) is False


def test_dummy_verify_is_always_false() -> None:
    assert dummy_verify("anything") is False


def test_out_of_range_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        ScryptParams(n=1000)
