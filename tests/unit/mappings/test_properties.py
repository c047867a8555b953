"""Property tests (hypothesis) over the identity documents and the EHC validity."""

from __future__ import annotations

from datetime import date, datetime

import pytest

pytest.importorskip("hypothesis")  # in the test extras; skip rather than break a bare environment

from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import InvalidEhcCode, InvalidIdNumber
from mappings.cards import decrypt_validity, encrypt_validity
from mappings.codes import regions
from mappings.identity_documents import mod11_2_check_char, parse_id_number
from tests.unit.mappings.helpers import TODAY, reference_check_char, with_check_char

# No example database on disk, no deadline (a loaded 2-core CI machine must not make them flaky).
quiet = settings(database=None, deadline=None)

bodies = st.text(alphabet="0123456789", min_size=17, max_size=17)
shandong_counties = sorted(
    code for code, region in regions().items() if code.startswith("37") and region.level == "county"
)
PROTECTION_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # synthetic


@quiet
@given(bodies)
def test_check_char_matches_the_reference(body: str) -> None:
    assert mod11_2_check_char(body) == reference_check_char(body)


@quiet
@given(bodies, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_error_changes_the_check_char(body: str, position: int, shift: int) -> None:
    wrong = body[:position] + str((int(body[position]) + shift) % 10) + body[position + 1 :]
    assert mod11_2_check_char(wrong) != mod11_2_check_char(body)


@quiet
@given(bodies, st.integers(0, 15))
def test_any_adjacent_transposition_changes_the_check_char(body: str, position: int) -> None:
    swapped = body[:position] + body[position + 1] + body[position] + body[position + 2 :]
    if swapped != body:
        assert mod11_2_check_char(swapped) != mod11_2_check_char(body)


@quiet
@given(
    st.sampled_from(shandong_counties),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)
def test_any_well_made_shandong_number_parses(code: str, born: date, sequence: int) -> None:
    number = with_check_char(f"{code}{born:%Y%m%d}{sequence:03d}")
    parsed = parse_id_number(number.lower(), today=TODAY)
    assert parsed.number == number
    assert parsed.birth_date == born
    assert parsed.sex == ("1" if sequence % 2 else "2")
    assert parsed.region_code == code and parsed.region_name and parsed.region_name.startswith("山东省")


@quiet
@given(st.text(max_size=40))
def test_any_text_either_parses_or_is_refused_with_a_reason(text: str) -> None:
    try:
        parse_id_number(text, today=TODAY)
    except InvalidIdNumber as error:
        assert error.reason in {"length", "format", "check_char", "date", "future_date", "region"}


@quiet
@given(st.text(alphabet="0123456789Xx ", min_size=15, max_size=20))
def test_refusals_never_show_the_whole_number(text: str) -> None:
    try:
        parse_id_number(text, today=TODAY)
    except InvalidIdNumber as error:
        assert "".join(text.split()).upper() not in str(error)


@quiet
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_any_validity_time_round_trips(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    assert decrypt_validity(PROTECTION_KEY, encrypt_validity(PROTECTION_KEY, moment)) == moment


@quiet
@given(st.binary(min_size=16, max_size=16))
def test_random_validity_values_are_refused_as_forged(forged: bytes) -> None:
    # A random block passes only if it decrypts to 9 zero bytes and 14 decimal digits: about 2^-72.
    with pytest.raises(InvalidEhcCode) as caught:
        decrypt_validity(PROTECTION_KEY, forged.hex())
    assert caught.value.reason == "forged_validity"
