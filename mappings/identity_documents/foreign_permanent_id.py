"""Foreign permanent resident ID numbers (外国人永久居留身份证).

2023 card (since 2023-12-01): 9 · 2-digit province of the accepting office · 3-digit numeric
nationality code · YYYYMMDD birth date · 3-digit sequence · MOD 11-2 check character.
2017 card: 3 letters (nationality) + 12 digits, no check character. Only the letters are read from
it: the published facts do not fix the meaning of the 12 digits, so nothing more is derived.
"""

from __future__ import annotations

import re
from datetime import date

from mappings.codes.regions import province_of
from mappings.identity_documents.check_char import mod11_2_check_char
from mappings.identity_documents.id_number import (
    IdNumber,
    IdNumberKind,
    birth_date_of,
    reject,
    sex_of_sequence,
)

_FORM_2023 = re.compile(r"9[0-9]{16}[0-9X]")
_FORM_2017 = re.compile(r"[A-Z]{3}[0-9]{12}")


def parse_foreign_permanent_id(number: str, *, today: date) -> IdNumber:
    """Validate an 18-character 2023-form number (already normalised: upper-case, no spaces)."""
    if len(number) != 18:
        raise reject("length", number, f"has {len(number)} characters, not 18")
    if not _FORM_2023.fullmatch(number):
        raise reject("format", number, "a foreign permanent resident ID is 9, 16 digits and a digit or X")
    if mod11_2_check_char(number[:17]) != number[17]:
        raise reject("check_char", number, "check character does not match (mistyped digit?)")
    born = birth_date_of(number[6:14], number=number, today=today)
    province = province_of(number[1:3])
    if province is None:
        raise reject("region", number, f"province code {number[1:3]} is not a known GB/T 2260 province")
    # The 2023 rules mirror GB 11643, sequence parity included.
    return IdNumber(
        number=number,
        kind=IdNumberKind.FOREIGN_PERMANENT_RESIDENT,
        birth_date=born,
        sex=sex_of_sequence(number[14:17]),
        region_code=province.code,
        region_name=province.full_name,
        country_code=number[3:6],
    )


def parse_foreign_permanent_id_2017(number: str) -> IdNumber:
    """Validate a 15-character 2017-form number: format only, it has no check character."""
    if len(number) != 15:
        raise reject("length", number, f"has {len(number)} characters, not 15")
    if not _FORM_2017.fullmatch(number):
        raise reject("format", number, "a 2017 foreign permanent resident ID is 3 letters and 12 digits")
    return IdNumber(
        number=number,
        kind=IdNumberKind.FOREIGN_PERMANENT_RESIDENT_2017,
        birth_date=None,
        sex="0",
        region_code=None,
        region_name=None,
        country_code=number[:3],
    )
