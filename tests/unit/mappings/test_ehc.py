from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mappings import InvalidEhcCode
from mappings.cards import (
    CHINA_STANDARD_TIME,
    decrypt_validity,
    ehc_factor,
    ehc_id,
    ehc_user_key,
    encrypt_validity,
    looks_like_ehc_qr,
    parse_ehc_qr,
    validity_to_utc,
)
from mappings.cards.sm4 import sm4_ecb_decrypt, sm4_ecb_encrypt, zero_pad

# The specification's test vector (DOMAIN.md §5).
MASTER_INDEX = "ABD17E7ED399EF68AB5660155D6E226D2C92EAC3254A4A66BED83AED0ADA1E9E"
ROOT_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
FACTOR = "92CDCE45A16799FD"
USER_KEY = "86C63180C2806ED1F47B859DE501215B"
EHC_ID = "98FF9F2C05145CB9305E9D8A57E072BB51180CA49E5BE5E9D41BCE3A9A571928"
PROTECTION_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # synthetic

# --- EHC ID derivation -----------------------------------------------------------------------------


def test_factor_of_the_vector() -> None:
    assert ehc_factor(MASTER_INDEX).hex().upper() == FACTOR
    assert ehc_factor(MASTER_INDEX.lower()) == ehc_factor(MASTER_INDEX)


def test_user_key_of_the_vector() -> None:
    assert ehc_user_key(ROOT_KEY, bytes.fromhex(FACTOR)).hex().upper() == USER_KEY


def test_ehc_id_of_the_vector() -> None:
    assert ehc_id(MASTER_INDEX, root_key=ROOT_KEY, cert_type="01", cert_number="11010020171225006X") == EHC_ID


def test_another_certificate_gives_another_id() -> None:
    other = ehc_id(MASTER_INDEX, root_key=ROOT_KEY, cert_type="03", cert_number="11010020171225006X")
    assert other != EHC_ID and len(other) == 64


def test_a_whole_block_is_not_padded_further() -> None:
    # "01" + 14 characters = 16 bytes: one block, 32 hex characters.
    assert len(ehc_id(MASTER_INDEX, root_key=ROOT_KEY, cert_type="01", cert_number="E1234567890123")) == 32


@pytest.mark.parametrize("master_index", [MASTER_INDEX[:-1], MASTER_INDEX + "0", MASTER_INDEX[:-1] + "G", ""])
def test_bad_master_index(master_index: str) -> None:
    with pytest.raises(InvalidEhcCode) as caught:
        ehc_factor(master_index)
    assert caught.value.reason == "master_index"
    assert MASTER_INDEX not in str(caught.value)


@pytest.mark.parametrize(
    ("cert_type", "cert_number"), [("1", "X"), ("AA", "X"), ("01", ""), ("01", "张三"), ("01", "A B")]
)
def test_bad_certificate(cert_type: str, cert_number: str) -> None:
    with pytest.raises(InvalidEhcCode) as caught:
        ehc_id(MASTER_INDEX, root_key=ROOT_KEY, cert_type=cert_type, cert_number=cert_number)
    assert caught.value.reason == "certificate"


def test_keys_of_the_wrong_size_are_configuration_errors() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        ehc_id(MASTER_INDEX, root_key=ROOT_KEY[:15], cert_type="01", cert_number="X")
    with pytest.raises(ValueError, match="8 bytes"):
        ehc_user_key(ROOT_KEY, b"1234567")
    with pytest.raises(ValueError, match="blocks"):
        sm4_ecb_encrypt(ROOT_KEY, b"short")


def test_sm4_round_trip_and_padding() -> None:
    block = zero_pad(b"abc")
    assert block == b"abc" + bytes(13) and zero_pad(bytes(16)) == bytes(16)
    assert sm4_ecb_decrypt(ROOT_KEY, sm4_ecb_encrypt(ROOT_KEY, block)) == block


# --- QR text ---------------------------------------------------------------------------------------

VALIDITY = encrypt_validity(PROTECTION_KEY, datetime(2025, 6, 1, 8, 30, 0))


def test_static_qr() -> None:
    code = parse_ehc_qr(f"{EHC_ID}:1")
    assert (code.ehc_id, code.dynamic, code.encrypted_validity) == (EHC_ID, False, None)


def test_dynamic_qr() -> None:
    code = parse_ehc_qr(f"{EHC_ID}:0:{VALIDITY}")
    assert (code.ehc_id, code.dynamic, code.encrypted_validity) == (EHC_ID, True, VALIDITY)


def test_qr_is_normalised() -> None:
    code = parse_ehc_qr(f"  {EHC_ID.lower()}:0:{VALIDITY.lower()}\n")
    assert (code.ehc_id, code.encrypted_validity) == (EHC_ID, VALIDITY)
    assert EHC_ID not in repr(code) and code.masked_ehc_id == f"{EHC_ID[:4]}*[56 chars]*{EHC_ID[-4:]}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (EHC_ID, "format"),
        (f"{EHC_ID}:2", "format"),
        (f"{EHC_ID}:0", "format"),
        (f"{EHC_ID}:1:{VALIDITY}", "format"),
        (f"{EHC_ID}:0:{VALIDITY}:x", "format"),
        ("", "format"),
        (f"{EHC_ID[:-1]}:1", "ehc_id"),
        (f"{EHC_ID}0:1", "ehc_id"),
        (f"{EHC_ID[:-1]}Z:1", "ehc_id"),
        (f"{EHC_ID}:0:{VALIDITY[:-1]}", "validity"),
        (f"{EHC_ID}:0:{VALIDITY}00", "validity"),
        (f"{EHC_ID}:0:{VALIDITY[:-1]}G", "validity"),
    ],
)
def test_bad_qr_text(text: str, reason: str) -> None:
    with pytest.raises(InvalidEhcCode) as caught:
        parse_ehc_qr(text)
    assert caught.value.reason == reason
    assert EHC_ID not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "looks"),
    [
        (f"{EHC_ID}:1", True),
        (f"{EHC_ID.lower()}:0:{VALIDITY}", True),
        (f"{EHC_ID}:0", False),
        ("11010519491231002X", False),
    ],
)
def test_shape_test_for_routing(text: str, looks: bool) -> None:
    assert looks_like_ehc_qr(text) is looks


# --- dynamic validity ------------------------------------------------------------------------------


def test_validity_round_trip() -> None:
    assert decrypt_validity(PROTECTION_KEY, VALIDITY) == datetime(2025, 6, 1, 8, 30, 0)
    assert decrypt_validity(PROTECTION_KEY, VALIDITY.lower()) == datetime(2025, 6, 1, 8, 30, 0)


def test_validity_plaintext_is_the_digits_as_hex_zero_padded() -> None:
    plain = sm4_ecb_decrypt(PROTECTION_KEY, bytes.fromhex(VALIDITY))
    assert plain == bytes.fromhex("20250601083000") + bytes(9)


def test_aware_times_are_taken_in_china_standard_time() -> None:
    utc = datetime(2025, 6, 1, 0, 30, 0, tzinfo=UTC)
    assert encrypt_validity(PROTECTION_KEY, utc) == VALIDITY
    assert validity_to_utc(decrypt_validity(PROTECTION_KEY, VALIDITY)) == utc
    assert CHINA_STANDARD_TIME.utcoffset(None) == timedelta(hours=8)
    tokyo = timezone(timedelta(hours=9))
    assert encrypt_validity(PROTECTION_KEY, datetime(2025, 6, 1, 9, 30, tzinfo=tokyo)) == VALIDITY


@pytest.mark.parametrize("bit", range(128))
def test_any_flipped_bit_is_refused(bit: int) -> None:
    tampered = int(VALIDITY, 16) ^ (1 << bit)
    with pytest.raises(InvalidEhcCode, match="forged"):
        decrypt_validity(PROTECTION_KEY, f"{tampered:032X}")


def test_wrong_key_is_refused() -> None:
    with pytest.raises(InvalidEhcCode) as caught:
        decrypt_validity(ROOT_KEY, VALIDITY)
    assert caught.value.reason == "forged_validity"


@pytest.mark.parametrize("text", ["", VALIDITY[:-2], VALIDITY + "00", "Z" * 32])
def test_malformed_validity_is_refused(text: str) -> None:
    with pytest.raises(InvalidEhcCode) as caught:
        decrypt_validity(PROTECTION_KEY, text)
    assert caught.value.reason == "forged_validity"


@pytest.mark.parametrize(
    "plain_hex", ["20251301083000", "20250230083000", "20250601246000", "2025060108300A"]
)
def test_encrypted_non_times_are_refused(plain_hex: str) -> None:
    # Genuinely encrypted (right key, right padding) but not a time: still refused.
    encrypted = sm4_ecb_encrypt(PROTECTION_KEY, zero_pad(bytes.fromhex(plain_hex))).hex()
    with pytest.raises(InvalidEhcCode, match="forged"):
        decrypt_validity(PROTECTION_KEY, encrypted)


def test_a_year_beyond_four_digits_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="4 digits"):
        encrypt_validity(PROTECTION_KEY, datetime(999, 1, 1))
