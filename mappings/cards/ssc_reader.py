"""The line a social security card reader returns (iReadCardBas), checked and parsed.

`region|SSN|card number|card identification code|name|ATR|spec version|issue date|expiry|terminal no|
terminal device no|` with extra trailing fields allowed. A 3rd-generation card read without PSAM
or HSM answers with SSN and name empty: that read names nobody and is refused as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from mappings.errors import InvalidSscRead, SscSsnMissing
from mappings.identity_documents.id_number import IdNumber
from mappings.identity_documents.parse import parse_id_number

FIELD_COUNT = 11
_REGION = re.compile(r"[0-9]{6}")
_CARD_NUMBER = re.compile(r"[0-9A-Z]{9}")
_IDENTIFICATION_CODE = re.compile(r"[0-9]{6}[0-9A-F]{26}")
_SPEC_VERSION = re.compile(r"([1-9])\.[0-9]{2}")
_DATE = re.compile(r"[0-9]{8}")


@dataclass(frozen=True)
class SscCardRead:
    """A reader line that names a card holder. The repr leaves out the SSN and name."""

    region_code: str  # issuing region (AAB301)
    holder: IdNumber = field(repr=False)  # the SSN (AAC002), which is the citizen ID number
    card_number: str  # AAZ500, 9 characters
    identification_code: str  # AAZ501, 32 hex characters starting with the region code
    name: str = field(repr=False)  # AAC003
    atr: str
    spec_version: str  # "1.00", "2.00", "3.00"
    generation: int
    issue_date: date | None  # None when the reader sent no YYYYMMDD date
    expiry_date: date | None
    terminal_number: str
    terminal_device_number: str
    extra_fields: tuple[str, ...] = ()

    @property
    def ssn(self) -> str:
        return self.holder.number


def parse_ssc_reader_line(line: str, *, today: date) -> SscCardRead:
    """Check and parse one reader line. Raises InvalidSscRead (SscSsnMissing for a read without SSN),
    or InvalidIdNumber when the SSN is not a valid ID number."""
    text = line.strip().strip("\x00")
    fields = [f.strip() for f in (text[:-1] if text.endswith("|") else text).split("|")]
    if len(fields) < FIELD_COUNT:
        raise InvalidSscRead(
            "format", f"reader line has {len(fields)} fields, expected {FIELD_COUNT} or more"
        )
    region, ssn, card_number, id_code, name, atr, version, issued, expiry, terminal, device = fields[:11]
    card_number, id_code = card_number.upper(), id_code.upper()

    if not _REGION.fullmatch(region):
        raise InvalidSscRead("region", "issuing region is not a 6-digit region code")
    if not _CARD_NUMBER.fullmatch(card_number):
        raise InvalidSscRead("card_number", "card number is not 9 letters or digits")
    if not _IDENTIFICATION_CODE.fullmatch(id_code):
        raise InvalidSscRead("identification_code", "card identification code is not 32 hex characters")
    if id_code[:6] != region:
        raise InvalidSscRead(
            "region_mismatch", "card identification code does not start with the issuing region"
        )
    version_match = _SPEC_VERSION.fullmatch(version)
    if version_match is None:
        raise InvalidSscRead("spec_version", "card spec version is not like 3.00")
    generation = int(version_match.group(1))
    if not ssn:
        hint = (
            " (3rd-generation card: read it through a PSAM card or the online HSM)" if generation >= 3 else ""
        )
        raise SscSsnMissing(f"the card answered without SSN{hint}")
    if not name:
        raise InvalidSscRead("name_missing", "the card answered without the holder's name")
    return SscCardRead(
        region_code=region,
        holder=parse_id_number(ssn, today=today),
        card_number=card_number,
        identification_code=id_code,
        name=name,
        atr=atr,
        spec_version=version,
        generation=generation,
        issue_date=_optional_date(issued),
        expiry_date=_optional_date(expiry),
        terminal_number=terminal,
        terminal_device_number=device,
        extra_fields=tuple(fields[FIELD_COUNT:]),
    )


def _optional_date(text: str) -> date | None:
    # Readers differ here (empty, 00000000, long-term markers): informational, so never fatal.
    if not _DATE.fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
