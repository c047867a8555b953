from __future__ import annotations

from datetime import date

import pytest

from mappings import InvalidIdNumber
from mappings.identity_documents import (
    IdNumberKind,
    parse_foreign_permanent_id,
    parse_foreign_permanent_id_2017,
    parse_id_number,
)
from tests.unit.mappings.helpers import TODAY, with_check_char


def test_domain_vector_2023_form() -> None:
    parsed = parse_id_number("932682198501010017", today=TODAY)
    assert parsed.kind is IdNumberKind.FOREIGN_PERMANENT_RESIDENT
    assert parsed.birth_date == date(1985, 1, 1)
    assert parsed.sex == "1"
    assert parsed.country_code == "682"
    assert (parsed.region_code, parsed.region_name) == ("320000", "江苏省")


def test_2023_form_female_with_x_check_char() -> None:
    # Shandong (37), nationality 410, born 1990-02-03: the first even sequence whose check char is X.
    number = next(
        n
        for n in (with_check_char(f"93741019900203{seq:03d}") for seq in range(0, 1000, 2))
        if n.endswith("X")
    )
    parsed = parse_id_number(number.lower(), today=TODAY)
    assert parsed.number == number and parsed.sex == "2" and parsed.region_code == "370000"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("932682198501010018", "check_char"),
        (with_check_char("93268219850230001"), "date"),
        (with_check_char("93268220990101001"), "future_date"),
        (with_check_char("99968219850101001"), "region"),
        (with_check_char("90068219850101001"), "region"),
        ("9326821985010100A7", "format"),
    ],
)
def test_2023_form_rejections(number: str, reason: str) -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(number, today=TODAY)
    assert caught.value.reason == reason
    assert number not in str(caught.value)


def test_2023_parser_wants_18_characters() -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_foreign_permanent_id("93268219850101001", today=TODAY)
    assert caught.value.reason == "length"


@pytest.mark.parametrize("number", ["USA370012345678", "usa370012345678", "CHN110085010101"])
def test_2017_form(number: str) -> None:
    parsed = parse_id_number(number, today=TODAY)
    assert parsed.kind is IdNumberKind.FOREIGN_PERMANENT_RESIDENT_2017
    assert parsed.number == number.upper()
    assert parsed.country_code == number[:3].upper()
    assert parsed.birth_date is None and parsed.sex == "0" and parsed.region_code is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [("USA37001234567X", "format"), ("US3370012345678", "format"), ("USA37001234567", "length")],
)
def test_2017_form_rejections(number: str, reason: str) -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_foreign_permanent_id_2017(number)
    assert caught.value.reason == reason


def test_letters_then_digits_of_15_go_to_the_2017_form_not_the_legacy_id() -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number("USA37001234567X", today=TODAY)
    assert caught.value.reason == "format"
    assert "3 letters" in str(caught.value)
