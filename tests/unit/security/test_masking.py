from __future__ import annotations

import pytest

from adapter.security.masking import mask_id_number, mask_name, mask_phone, mask_text

# Synthetic values only: the ID numbers below are made up (region 3716.., dates in 1990/2000).
ID18 = "371602199001011234"
ID18_X = "11010520000101002X"
ID15 = "371602900101123"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (ID18, "3716**********1234"),
        (ID18_X, "1101**********002X"),
        (ID15, "3716*******1123"),
        ("12345678", "12****78"),
        ("123", "***"),
        ("", ""),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),
        ("欧阳", "欧*"),
        ("欧阳娜娜", "欧***"),
        ("李", "*"),
        ("Zhang San", "Z**** ***"),
        ("", ""),
    ],
)
def test_mask_name_keeps_only_the_first_character(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13812345678", "138****5678"), ("02912345678", "029****5678"), ("12345", "*****")],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_mask_text_scrubs_id_numbers_and_phones_in_chinese_text() -> None:
    text = f"患者身份证号{ID18}，电话13812345678，旧证{ID15}。"
    assert mask_text(text) == "患者身份证号3716**********1234，电话138****5678，旧证3716*******1123。"


def test_mask_text_handles_x_check_digit_and_country_code() -> None:
    assert mask_text(f"id={ID18_X.lower()}") == "id=1101**********002x"
    assert mask_text("call +86 13912345678 now") == "call +86 139****5678 now"
    assert mask_text("tel:8613912345678") == "tel:86139****5678"


def test_mask_text_leaves_other_numbers_alone() -> None:
    # Too short, too long (a 19-digit card number is not an ID), or not a mobile prefix.
    text = "MSH-10 20240101120000 count 42 acct 1234567890123456789 fixed 12012345678"
    assert mask_text(text) == text


def test_mask_text_never_matches_inside_a_longer_digit_run() -> None:
    assert mask_text("9" + ID18) == "9" + ID18


def test_mask_text_is_idempotent() -> None:
    once = mask_text(f"{ID18} 13812345678")
    assert mask_text(once) == once
