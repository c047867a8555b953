"""Recognise which kind of ID number a string holds and validate it."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from mappings.identity_documents.foreign_permanent_id import (
    parse_foreign_permanent_id,
    parse_foreign_permanent_id_2017,
)
from mappings.identity_documents.id_number import IdNumber, reject
from mappings.identity_documents.resident_id import parse_legacy_id, parse_resident_id

_STARTS_WITH_LETTERS = re.compile(r"[A-Z]{3}")


def normalise_id_number(number: str) -> str:
    """Full-width characters folded (NFKC), spaces removed, lower-case x made upper-case."""
    return "".join(unicodedata.normalize("NFKC", number).split()).upper()


def parse_id_number(number: str, *, today: date) -> IdNumber:
    """Any ID number a person shows: 18-digit resident ID or residence permit, 15-digit legacy ID,
    or a foreign permanent resident ID (2023 or 2017 form). Raises InvalidIdNumber."""
    value = normalise_id_number(number)
    if len(value) == 18:
        if value.startswith("9"):
            return parse_foreign_permanent_id(value, today=today)
        return parse_resident_id(value, today=today)
    if len(value) == 15:
        if _STARTS_WITH_LETTERS.match(value):
            return parse_foreign_permanent_id_2017(value)
        return parse_legacy_id(value, today=today)
    raise reject("length", value, f"has {len(value)} characters; ID numbers have 18 (or 15)")
