"""GB/T 2261.1 sex codes and their FHIR administrative gender."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal, cast

from mappings.codes._data import read_csv
from mappings.codes.code_table import CodeTable

FhirGender = Literal["male", "female", "other", "unknown"]


@dataclass(frozen=True)
class Sex:
    code: str
    name: str
    fhir_gender: FhirGender


@cache
def sex_codes() -> CodeTable[Sex]:
    """GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unspecified."""
    return CodeTable.of(
        "GB/T 2261.1",
        (
            (row["code"], Sex(row["code"], row["name"], cast(FhirGender, row["fhir_gender"])))
            for row in read_csv("gbt2261_1_sex.csv")
        ),
    )


def fhir_gender_for_sex(code: str) -> FhirGender:
    """FHIR gender for a GB/T 2261.1 code; KeyError for a code outside the table."""
    return sex_codes()[code].fhir_gender


def sex_for_fhir_gender(gender: str) -> str:
    """GB/T 2261.1 code for a FHIR gender; KeyError for a value outside FHIR's four."""
    for sex in sex_codes().values():
        if sex.fhir_gender == gender:
            return sex.code
    raise KeyError(gender)
