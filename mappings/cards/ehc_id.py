"""Electronic health card ID (电子健康卡ID) derivation, as the EHC specification defines it.

1. factor = XOR of the four 8-byte groups of the 32-byte master index;
2. user key = SM4-ECB(root key, factor ‖ NOT factor);
3. EHC ID = SM4-ECB(user key, certificate type (2 chars) ‖ certificate number, zero-padded to 16-byte blocks).
"""

from __future__ import annotations

import re

from mappings.cards.sm4 import sm4_ecb_encrypt, zero_pad
from mappings.errors import EhcProblem, InvalidEhcCode
from mappings.masking import mask_identifier

HEX64 = re.compile(r"[0-9A-F]{64}")
_CERT_TYPE = re.compile(r"[0-9]{2}")
_CERT_NUMBER = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


def normalise_hex64(value: str, *, reason: EhcProblem, what: str) -> str:
    """Upper-case 64-hex text; InvalidEhcCode(reason) otherwise."""
    text = value.strip().upper()
    if not HEX64.fullmatch(text):
        raise InvalidEhcCode(reason, f"{what} {mask_identifier(text)} is not 64 hex characters")
    return text


def ehc_factor(master_index: str) -> bytes:
    """Step 1: the 8-byte factor of a master index (64 hex characters)."""
    raw = bytes.fromhex(normalise_hex64(master_index, reason="master_index", what="master index"))
    factor = bytearray(8)
    for start in range(0, 32, 8):
        for i, byte in enumerate(raw[start : start + 8]):
            factor[i] ^= byte
    return bytes(factor)


def ehc_user_key(root_key: bytes, factor: bytes) -> bytes:
    """Step 2: the 16-byte user key derived from the platform's root key and the factor."""
    if len(factor) != 8:
        raise ValueError("the factor is 8 bytes")
    return sm4_ecb_encrypt(root_key, factor + bytes(b ^ 0xFF for b in factor))


def ehc_id(master_index: str, *, root_key: bytes, cert_type: str, cert_number: str) -> str:
    """Step 3: the EHC ID (64 upper-case hex characters) for one person and certificate.

    `cert_type` is a WS 364 CV02.01.101 code ("01" resident ID); `cert_number` is used as given
    (pass an ID number normalised, upper-case X)."""
    if not _CERT_TYPE.fullmatch(cert_type):
        raise InvalidEhcCode("certificate", "certificate type is 2 digits (WS 364 CV02.01.101)")
    if not _CERT_NUMBER.fullmatch(cert_number):
        raise InvalidEhcCode("certificate", "certificate number is printable ASCII without spaces")
    user_key = ehc_user_key(root_key, ehc_factor(master_index))
    plaintext = zero_pad((cert_type + cert_number).encode("ascii"))
    return sm4_ecb_encrypt(user_key, plaintext).hex().upper()
