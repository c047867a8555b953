"""Cards, offline part: the social security card reader line and the electronic health card
(EHC ID derivation, QR text, dynamic validity). Platform calls live in the adapter."""

from mappings.cards.ehc_id import ehc_factor, ehc_id, ehc_user_key
from mappings.cards.ehc_qr import EhcQrCode, looks_like_ehc_qr, parse_ehc_qr
from mappings.cards.ehc_validity import (
    CHINA_STANDARD_TIME,
    decrypt_validity,
    encrypt_validity,
    validity_to_utc,
)
from mappings.cards.ssc_reader import SscCardRead, parse_ssc_reader_line

__all__ = [
    "CHINA_STANDARD_TIME",
    "EhcQrCode",
    "SscCardRead",
    "decrypt_validity",
    "ehc_factor",
    "ehc_id",
    "ehc_user_key",
    "encrypt_validity",
    "looks_like_ehc_qr",
    "parse_ehc_qr",
    "parse_ssc_reader_line",
    "validity_to_utc",
]
