"""The parsed form of an ID number and the checks every kind shares (birth date, sex, rejection)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from mappings.errors import IdNumberProblem, InvalidIdNumber
from mappings.masking import mask_identifier

# A birth year before this is taken as a typing error, not a person.
EARLIEST_BIRTH_YEAR = 1800


class IdNumberKind(StrEnum):
    RESIDENT = "resident"  # 公民身份号码, GB 11643
    HONG_KONG_RESIDENCE_PERMIT = "hong_kong_residence_permit"  # address code 810000
    MACAO_RESIDENCE_PERMIT = "macao_residence_permit"  # 820000
    TAIWAN_RESIDENCE_PERMIT = "taiwan_residence_permit"  # 830000
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"  # 2023 card: 18 digits starting with 9
    FOREIGN_PERMANENT_RESIDENT_2017 = "foreign_permanent_resident_2017"  # 3 letters + 12 digits


@dataclass(frozen=True)
class IdNumber:
    """A valid ID number and what it tells. The repr masks the number (it lands in logs)."""

    number: str = field(repr=False)  # normalised: 18 characters (upper-case X) or the 2017 15-char form
    kind: IdNumberKind
    birth_date: date | None  # None where the number does not tell it (2017 foreign form)
    sex: str  # GB/T 2261.1: "1" male, "2" female, "0" not told by the number
    region_code: str | None  # address code (province code for foreigners); None for the 2017 form
    region_name: str | None
    country_code: str | None = None  # foreigners: numeric (2023) or 3-letter (2017) nationality code
    legacy_number: str | None = field(default=None, repr=False)  # the 15-digit number this was upgraded from

    @property
    def masked(self) -> str:
        return mask_identifier(self.number)


def reject(reason: IdNumberProblem, number: str, what: str) -> InvalidIdNumber:
    """The error for a bad number; its message names the problem and shows the number masked."""
    return InvalidIdNumber(reason, f"ID number {mask_identifier(number)}: {what}")


def birth_date_of(digits: str, *, number: str, today: date) -> date:
    """The YYYYMMDD birth date inside a number: it must exist and not lie after `today`."""
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise reject("date", number, f"birth date {digits} is not a real date") from None
    if born.year < EARLIEST_BIRTH_YEAR:
        raise reject("date", number, f"birth year {born.year} is before {EARLIEST_BIRTH_YEAR}")
    if born > today:
        raise reject("future_date", number, "birth date is in the future")
    return born


def sex_of_sequence(sequence: str) -> str:
    """GB 11643: an odd sequence number is a man (GB/T 2261.1 code 1), an even one a woman (2)."""
    return "1" if int(sequence[-1]) % 2 == 1 else "2"
