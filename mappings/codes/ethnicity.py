"""GB 3304 ethnicity codes: the numeric form (NHSA, CDA) and the letter form (HL7 China)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from mappings.codes._data import read_csv
from mappings.codes.code_table import CodeTable


@dataclass(frozen=True)
class Ethnicity:
    numeric: str
    letter: str | None  # 97 and 98 have no letter code
    name: str


@cache
def ethnicities() -> CodeTable[Ethnicity]:
    """All GB 3304 ethnicities keyed by the 2-digit numeric code (01..56, 97, 98)."""
    return CodeTable.of(
        "GB 3304 (numeric)",
        (
            (row["numeric"], Ethnicity(row["numeric"], row["letter"] or None, row["name"]))
            for row in read_csv("gb3304_ethnicity.csv")
        ),
    )


@cache
def ethnicities_by_letter() -> CodeTable[Ethnicity]:
    """The ethnicities that have a letter code, keyed by it (HA, MG, ...)."""
    return CodeTable.of(
        "GB 3304 (letter)", ((e.letter, e) for e in ethnicities().values() if e.letter is not None)
    )


def ethnicity_letter_for_numeric(numeric: str) -> str | None:
    """Letter code for a numeric code (None for 97/98); KeyError for an unknown code."""
    return ethnicities()[numeric].letter


def ethnicity_numeric_for_letter(letter: str) -> str:
    """Numeric code for a letter code (case-insensitive); KeyError for an unknown letter code."""
    return ethnicities_by_letter()[letter.upper()].numeric
