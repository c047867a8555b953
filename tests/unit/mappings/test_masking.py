from __future__ import annotations

import pytest

from mappings import mask_identifier


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("371602199001010012", "3716**********0012"),
        ("USA123456789012", "USA1*******9012"),
        ("123456789012", "1234****9012"),
        ("12345678901", "***********"),
        ("X00000019", "*********"),
        ("", ""),
    ],
)
def test_keeps_first_four_and_last_four(value: str, masked: str) -> None:
    assert mask_identifier(value) == masked


def test_long_garbage_is_shortened() -> None:
    masked = mask_identifier("A" * 1000)
    assert masked == "AAAA*[992 chars]*AAAA"


def test_never_shows_the_whole_value() -> None:
    for length in range(40):
        value = "".join(str(i % 10) for i in range(length))
        assert value == "" or mask_identifier(value) != value
