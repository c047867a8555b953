"""The validity of a dynamic EHC QR code: SM4-ECB(protection key, YYYYMMDDHHMMSS as hex digits, zero-padded).

The 14 decimal digits are read as 7 bytes of hex digits (BCD), padded with 9 zero bytes to one block.
Decryption checks the padding and the digits, so a forged or tampered value is refused, not misread.
Times are the platform's wall-clock time (China Standard Time); an aware datetime is converted to it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from mappings.cards.sm4 import BLOCK_SIZE, sm4_ecb_decrypt, sm4_ecb_encrypt, zero_pad
from mappings.errors import InvalidEhcCode

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
_HEX32 = re.compile(r"[0-9A-F]{32}")
_STAMP_BYTES = 7


def encrypt_validity(key: bytes, valid_until: datetime) -> str:
    """The 32-hex validity field for a dynamic QR code valid until `valid_until`."""
    if valid_until.tzinfo is not None:
        valid_until = valid_until.astimezone(CHINA_STANDARD_TIME).replace(tzinfo=None)
    stamp = valid_until.strftime("%Y%m%d%H%M%S")
    if len(stamp) != 2 * _STAMP_BYTES:
        raise ValueError("the validity year must have 4 digits")
    return sm4_ecb_encrypt(key, zero_pad(bytes.fromhex(stamp))).hex().upper()


def decrypt_validity(key: bytes, encrypted: str) -> datetime:
    """The (naive, China Standard Time) end of validity; InvalidEhcCode("forged_validity") if not genuine."""
    text = encrypted.strip().upper()
    if not _HEX32.fullmatch(text):
        raise InvalidEhcCode("forged_validity", "validity is not 32 hex characters")
    forged = InvalidEhcCode("forged_validity", "validity does not decrypt to a time (forged or wrong key)")
    plain = sm4_ecb_decrypt(key, bytes.fromhex(text))
    stamp = plain[:_STAMP_BYTES].hex()
    if plain[_STAMP_BYTES:] != bytes(BLOCK_SIZE - _STAMP_BYTES) or not stamp.isdigit():
        raise forged
    year, month, day = int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8])
    hour, minute, second = int(stamp[8:10]), int(stamp[10:12]), int(stamp[12:14])
    try:
        # Naive on purpose: the platform's wall-clock time (see the module docstring).
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise forged from None


def validity_to_utc(valid_until: datetime) -> datetime:
    """A decrypted (naive CST) validity as an aware UTC datetime, for comparing with a clock."""
    return valid_until.replace(tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)
