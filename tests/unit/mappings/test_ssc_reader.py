from __future__ import annotations

from datetime import date

import pytest

from mappings import InvalidIdNumber, InvalidSscRead, SscSsnMissing
from mappings.cards import parse_ssc_reader_line
from tests.unit.mappings.helpers import TODAY, with_check_char

SSN = with_check_char("37160219850312002")  # synthetic Binzhou woman
ID_CODE = "371600D15600000500ABCDEF12345678"
FIELDS = [
    "371600",
    SSN,
    "JA334687X",
    ID_CODE,
    "张三",
    "3B6C00007E7D0F0600A0000000000000",
    "2.00",
    "20200315",
    "20300315",
    "T0001",
    "D0001",
]


def line(**changes: str) -> str:
    names = "region ssn card id_code name atr version issued expiry terminal device".split()
    fields = [changes.get(name, value) for name, value in zip(names, FIELDS, strict=True)]
    return "|".join(fields) + "|"


def refusal(text: str) -> InvalidSscRead:
    with pytest.raises(InvalidSscRead) as caught:
        parse_ssc_reader_line(text, today=TODAY)
    return caught.value


def test_second_generation_full_read() -> None:
    read = parse_ssc_reader_line(line(), today=TODAY)
    assert read.region_code == "371600"
    assert read.ssn == SSN and read.holder.birth_date == date(1985, 3, 12) and read.holder.sex == "2"
    assert read.holder.region_name == "山东省滨州市滨城区"
    assert (read.card_number, read.identification_code, read.name) == ("JA334687X", ID_CODE, "张三")
    assert (read.spec_version, read.generation) == ("2.00", 2)
    assert (read.issue_date, read.expiry_date) == (date(2020, 3, 15), date(2030, 3, 15))
    assert (read.terminal_number, read.terminal_device_number, read.extra_fields) == ("T0001", "D0001", ())


def test_repr_leaves_out_ssn_and_name() -> None:
    text = repr(parse_ssc_reader_line(line(), today=TODAY))
    assert SSN not in text and "张三" not in text and "JA334687X" in text


def test_third_generation_without_ssn_is_reported_as_such() -> None:
    with pytest.raises(SscSsnMissing) as caught:
        parse_ssc_reader_line(line(version="3.00", ssn="", name=""), today=TODAY)
    assert caught.value.reason == "ssn_missing"
    assert "3rd-generation" in str(caught.value) and "PSAM" in str(caught.value)


def test_older_card_without_ssn_is_refused_the_same_way() -> None:
    error = refusal(line(ssn=""))
    assert isinstance(error, SscSsnMissing) and "3rd-generation" not in str(error)


def test_third_generation_read_through_psam_is_a_person() -> None:
    read = parse_ssc_reader_line(line(version="3.00", card="X00000019"), today=TODAY)
    assert read.generation == 3 and read.card_number == "X00000019"


def test_name_missing() -> None:
    assert refusal(line(name="")).reason == "name_missing"


@pytest.mark.parametrize(
    "text",
    [
        line() + "extra1|extra2|",
        line()[:-1] + "|extra1|extra2",
    ],
)
def test_extra_trailing_fields_are_kept(text: str) -> None:
    assert parse_ssc_reader_line(text, today=TODAY).extra_fields == ("extra1", "extra2")


@pytest.mark.parametrize("text", [line()[:-1], line() + "\r\n", " " + line() + "\x00"])
def test_terminator_and_surrounding_noise_are_tolerated(text: str) -> None:
    assert parse_ssc_reader_line(text, today=TODAY).card_number == "JA334687X"


def test_lower_case_card_number_and_code_are_normalised() -> None:
    read = parse_ssc_reader_line(line(card="ja334687x", id_code=ID_CODE.lower()), today=TODAY)
    assert (read.card_number, read.identification_code) == ("JA334687X", ID_CODE)


@pytest.mark.parametrize(
    "card", ["JA334687", "JA334687XX", "JA33468-X", "", "JA3346 7X", "ＪＡ３３４６８７Ｘ"]
)
def test_bad_card_number(card: str) -> None:
    assert refusal(line(card=card)).reason == "card_number"


@pytest.mark.parametrize(
    "code", [ID_CODE[:-1], ID_CODE + "0", ID_CODE[:-1] + "G", "37160AD15600000500ABCDEF12345678", ""]
)
def test_bad_identification_code(code: str) -> None:
    assert refusal(line(id_code=code)).reason == "identification_code"


def test_identification_code_from_another_region() -> None:
    assert refusal(line(id_code="110000" + ID_CODE[6:])).reason == "region_mismatch"


@pytest.mark.parametrize("region", ["37160", "3716000", "37160A", ""])
def test_bad_region(region: str) -> None:
    assert refusal(line(region=region)).reason == "region"


@pytest.mark.parametrize("version", ["", "3", "3.0", "v3.00", "0.99"])
def test_bad_spec_version(version: str) -> None:
    assert refusal(line(version=version)).reason == "spec_version"


@pytest.mark.parametrize("text", ["", "371600|", "|".join(FIELDS[:10]) + "|"])
def test_too_few_fields(text: str) -> None:
    assert refusal(text).reason == "format"


def test_ssn_with_a_wrong_check_char_is_an_id_number_error() -> None:
    wrong = SSN[:17] + ("0" if SSN[17] != "0" else "1")
    with pytest.raises(InvalidIdNumber) as caught:
        parse_ssc_reader_line(line(ssn=wrong), today=TODAY)
    assert caught.value.reason == "check_char" and wrong not in str(caught.value)


@pytest.mark.parametrize("value", ["", "00000000", "长期", "20301345"])
def test_unreadable_dates_are_left_empty(value: str) -> None:
    read = parse_ssc_reader_line(line(issued=value, expiry=value), today=TODAY)
    assert read.issue_date is None and read.expiry_date is None


def test_messages_never_show_ssn_or_name() -> None:
    for text in (line(card="bad"), line(id_code="bad"), line(region="bad"), line(version="x"), line(name="")):
        message = str(refusal(text))
        assert SSN not in message and "张三" not in message
