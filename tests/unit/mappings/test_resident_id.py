from __future__ import annotations

from datetime import date, timedelta

import pytest

from mappings import InvalidIdNumber, MappingInputError
from mappings.identity_documents import (
    IdNumberKind,
    normalise_id_number,
    parse_id_number,
    parse_legacy_id,
    parse_resident_id,
    upgrade_legacy_id_number,
)
from tests.unit.mappings.helpers import TODAY, with_check_char


def rejection(number: str, today: date = TODAY) -> InvalidIdNumber:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(number, today=today)
    return caught.value


# --- the DOMAIN.md vectors -------------------------------------------------------------------------


def test_beijing_chaoyang_woman_born_1949() -> None:
    parsed = parse_id_number("11010519491231002X", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.kind is IdNumberKind.RESIDENT
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "2"
    assert (parsed.region_code, parsed.region_name) == ("110105", "北京市朝阳区")
    assert parsed.legacy_number is None and parsed.country_code is None


def test_old_abolished_address_code_still_validates() -> None:
    parsed = parse_id_number("440524188001010014", today=TODAY)
    assert parsed.birth_date == date(1880, 1, 1)
    assert parsed.sex == "1"
    assert (parsed.region_code, parsed.region_name) == ("440524", "广东省汕头市潮阳县")


def test_lower_case_x_is_normalised() -> None:
    parsed = parse_id_number("11010020171225006x", today=TODAY)
    assert parsed.number == "11010020171225006X"
    assert parsed.birth_date == date(2017, 12, 25)
    assert (parsed.region_code, parsed.region_name) == ("110100", "北京市市辖区")


@pytest.mark.parametrize(
    "typed", [" 11010519491231002X ", "110105 19491231 002X", "１１０１０５１９４９１２３１００２Ｘ"]
)
def test_spaces_and_full_width_characters_are_folded(typed: str) -> None:
    assert normalise_id_number(typed) == "11010519491231002X"
    assert parse_id_number(typed, today=TODAY).number == "11010519491231002X"


# --- derived facts --------------------------------------------------------------------------------


@pytest.mark.parametrize(("sequence", "sex"), [(f"{n:03d}", "1" if n % 2 else "2") for n in range(10)])
def test_odd_sequence_is_male_even_is_female(sequence: str, sex: str) -> None:
    assert parse_id_number(with_check_char(f"37160219900101{sequence}"), today=TODAY).sex == sex


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("371602", "山东省滨州市滨城区"),
        ("371603", "山东省滨州市沾化区"),
        ("371621", "山东省滨州市惠民县"),
        ("371622", "山东省滨州市阳信县"),
        ("371623", "山东省滨州市无棣县"),
        ("371625", "山东省滨州市博兴县"),
        ("371681", "山东省滨州市邹平市"),
        ("371626", "山东省滨州市邹平县"),  # historic: county until 2018
        ("372301", "山东省滨州地区滨州市"),  # historic: the old prefecture 372300
        ("371699", "山东省滨州市"),  # unknown county of a known prefecture
        ("370000", "山东省"),
    ],
)
def test_region_is_looked_up(code: str, name: str) -> None:
    parsed = parse_id_number(with_check_char(f"{code}19800101001"), today=TODAY)
    assert (parsed.region_code, parsed.region_name) == (code, name)


@pytest.mark.parametrize(
    ("code", "kind", "name"),
    [
        ("810000", IdNumberKind.HONG_KONG_RESIDENCE_PERMIT, "香港特别行政区"),
        ("820000", IdNumberKind.MACAO_RESIDENCE_PERMIT, "澳门特别行政区"),
        ("830000", IdNumberKind.TAIWAN_RESIDENCE_PERMIT, "台湾地区"),
    ],
)
def test_residence_permits(code: str, kind: IdNumberKind, name: str) -> None:
    parsed = parse_id_number(with_check_char(f"{code}19900515002"), today=TODAY)
    assert (parsed.kind, parsed.region_code, parsed.region_name) == (kind, code, name)
    assert parsed.birth_date == date(1990, 5, 15) and parsed.sex == "2"


def test_born_today_is_accepted() -> None:
    assert parse_id_number(with_check_char("37160220250601001"), today=TODAY).birth_date == TODAY


# --- legacy 15-digit numbers ------------------------------------------------------------------------


def test_fifteen_digits_gain_19_and_a_check_char() -> None:
    assert upgrade_legacy_id_number("110105491231002") == "11010519491231002X"
    assert upgrade_legacy_id_number("440524800101001") == "440524198001010013"


def test_fifteen_digit_number_parses_to_the_18_digit_form() -> None:
    parsed = parse_id_number("110105491231002", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.legacy_number == "110105491231002"
    assert parsed.birth_date == date(1949, 12, 31) and parsed.sex == "2"
    assert parse_legacy_id("110105491231002", today=TODAY) == parsed


@pytest.mark.parametrize(("number", "reason"), [("110105490231002", "date"), ("100000491231002", "region")])
def test_fifteen_digit_number_is_checked_after_conversion(number: str, reason: str) -> None:
    assert rejection(number).reason == reason


@pytest.mark.parametrize(("number", "reason"), [("11010549123100", "length"), ("11010549123100A", "format")])
def test_upgrade_refuses_what_is_not_15_digits(number: str, reason: str) -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        upgrade_legacy_id_number(number)
    assert caught.value.reason == reason


# --- every rejection reason -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["", "1101051949123100", "11010519491231002", "11010519491231002XX", "1" * 30]
)
def test_wrong_length(number: str) -> None:
    error = rejection(number)
    assert error.reason == "length"
    assert "characters" in str(error)


@pytest.mark.parametrize(
    "number", ["1101051949123100X2", "11010519491231002Y", "110105194912310A2X", "11010519491231-02X"]
)
def test_wrong_characters(number: str) -> None:
    assert rejection(number).reason == "format"


@pytest.mark.parametrize("wrong", "0123456789")
def test_wrong_check_char(wrong: str) -> None:
    error = rejection("11010519491231002" + wrong)
    assert error.reason == "check_char"
    assert "check character" in str(error)


@pytest.mark.parametrize(
    "date_digits", ["19490230", "19491301", "19490001", "19491200", "19000229", "00000101", "17991231"]
)
def test_impossible_birth_date(date_digits: str) -> None:
    error = rejection(with_check_char(f"371602{date_digits}001"))
    assert error.reason == "date"
    assert "birth" in str(error)


def test_leap_day_in_a_leap_year_is_fine() -> None:
    assert parse_id_number(with_check_char("37160220000229001"), today=TODAY).birth_date == date(2000, 2, 29)


def test_birth_date_after_today() -> None:
    tomorrow = TODAY + timedelta(days=1)
    error = rejection(with_check_char(f"371602{tomorrow:%Y%m%d}001"))
    assert error.reason == "future_date"
    assert "future" in str(error)


@pytest.mark.parametrize("code", ["100000", "000000", "200000", "660000", "376000", "379901", "710101"])
def test_unknown_region(code: str) -> None:
    error = rejection(with_check_char(f"{code}19800101001"))
    assert error.reason == "region"
    assert code in str(error) and "not a known" in str(error)


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002Y",
        "110105194912310021",
        "1101051949023000",
        "99999919800101001X",
        "110105194902300026",
    ],
)
def test_messages_never_show_the_whole_number(number: str) -> None:
    error = rejection(number)
    assert number not in str(error)
    assert isinstance(error, MappingInputError) and isinstance(error, ValueError)


def test_message_shows_the_number_masked() -> None:
    assert "1101**********0021" in str(rejection("110105194912310021"))


def test_parse_resident_id_wants_18_characters() -> None:
    with pytest.raises(InvalidIdNumber, match="not 18"):
        parse_resident_id("110105491231002", today=TODAY)


def test_repr_masks_the_number() -> None:
    parsed = parse_id_number("11010519491231002X", today=TODAY)
    assert "11010519491231002X" not in repr(parsed)
    assert parsed.masked == "1101**********002X"
