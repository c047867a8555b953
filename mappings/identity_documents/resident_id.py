"""Resident ID numbers (GB 11643) and the residence permits of Hong Kong, Macao and Taiwan residents."""

from __future__ import annotations

import re
from datetime import date

from mappings.codes.regions import resolve_address_code
from mappings.identity_documents.check_char import mod11_2_check_char
from mappings.identity_documents.id_number import (
    IdNumber,
    IdNumberKind,
    birth_date_of,
    reject,
    sex_of_sequence,
)

_EIGHTEEN = re.compile(r"[0-9]{17}[0-9X]")
_FIFTEEN = re.compile(r"[0-9]{15}")

# Residence permit numbers use these address codes instead of a GB/T 2260 county.
_PERMITS = {
    "810000": (IdNumberKind.HONG_KONG_RESIDENCE_PERMIT, "香港特别行政区"),
    "820000": (IdNumberKind.MACAO_RESIDENCE_PERMIT, "澳门特别行政区"),
    "830000": (IdNumberKind.TAIWAN_RESIDENCE_PERMIT, "台湾地区"),
}


def parse_resident_id(number: str, *, today: date, legacy_number: str | None = None) -> IdNumber:
    """Validate an 18-character number (already normalised: upper-case, no spaces)."""
    if len(number) != 18:
        raise reject("length", number, f"has {len(number)} characters, not 18")
    if not _EIGHTEEN.fullmatch(number):
        raise reject("format", number, "must be 17 digits and a digit or X")
    if mod11_2_check_char(number[:17]) != number[17]:
        raise reject("check_char", number, "check character does not match (mistyped digit?)")
    born = birth_date_of(number[6:14], number=number, today=today)
    address = number[:6]
    if address in _PERMITS:
        kind, region_name = _PERMITS[address]
    else:
        region = resolve_address_code(address)
        if region is None:
            raise reject("region", number, f"address code {address} is not a known GB/T 2260 region")
        kind, region_name = IdNumberKind.RESIDENT, region.full_name
    return IdNumber(
        number=number,
        kind=kind,
        birth_date=born,
        sex=sex_of_sequence(number[14:17]),
        region_code=address,
        region_name=region_name,
        legacy_number=legacy_number,
    )


def upgrade_legacy_id_number(number: str) -> str:
    """The 18-digit form of a 15-digit number: insert 19 before the YYMMDD date, append the check char."""
    if len(number) != 15:
        raise reject("length", number, f"has {len(number)} characters, not 15")
    if not _FIFTEEN.fullmatch(number):
        raise reject("format", number, "a 15-digit number is digits only")
    body = number[:6] + "19" + number[6:]
    return body + mod11_2_check_char(body)


def parse_legacy_id(number: str, *, today: date) -> IdNumber:
    """Validate a 15-digit number; the result carries the 18-digit form and keeps the old one."""
    return parse_resident_id(upgrade_legacy_id_number(number), today=today, legacy_number=number)
