from __future__ import annotations

import pytest

from mappings.identity_documents import mod11_2_check_char
from mappings.identity_documents.check_char import CHECK_CHARS, WEIGHTS
from tests.unit.mappings.helpers import reference_check_char


def test_weights_and_characters_are_the_standard_ones() -> None:
    assert WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert CHECK_CHARS == "10X98765432"


@pytest.mark.parametrize(
    ("number"), ["11010519491231002X", "440524188001010014", "11010020171225006X", "932682198501010017"]
)
def test_domain_vectors(number: str) -> None:
    assert mod11_2_check_char(number[:17]) == number[17]


@pytest.mark.parametrize("residue", range(11))
def test_every_residue_gives_its_character(residue: int) -> None:
    # Walk the sequence digits of a Binzhou number until the weighted sum has this residue.
    for sequence in range(1000):
        body = f"37160219900101{sequence:03d}"
        total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
        if total % 11 == residue:
            assert mod11_2_check_char(body) == "10X98765432"[residue]
            assert mod11_2_check_char(body) == reference_check_char(body)
            return
    pytest.fail(f"no body with residue {residue}")


@pytest.mark.parametrize(
    "body", ["", "1234567890123456", "123456789012345678", "1234567890123456X", "１" * 17]
)
def test_refuses_anything_but_17_ascii_digits(body: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        mod11_2_check_char(body)
