"""The text of an electronic health card QR code: static `<EHC ID>:1`, dynamic `<EHC ID>:0:<validity>`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mappings.cards.ehc_id import HEX64
from mappings.errors import InvalidEhcCode
from mappings.masking import mask_identifier

_VALIDITY = re.compile(r"[0-9A-F]{32}")


@dataclass(frozen=True)
class EhcQrCode:
    """A well-formed EHC QR text. Only the platform can tell whether it is genuine and still valid."""

    ehc_id: str = field(repr=False)  # 64 upper-case hex characters
    dynamic: bool
    encrypted_validity: str | None  # 32 upper-case hex characters for a dynamic code

    @property
    def masked_ehc_id(self) -> str:
        return mask_identifier(self.ehc_id)


def looks_like_ehc_qr(text: str) -> bool:
    """Cheap shape test for routing a scanned code (no exception)."""
    return re.fullmatch(r"\s*[0-9A-Fa-f]{64}:(1|0:[0-9A-Fa-f]{32})\s*", text) is not None


def parse_ehc_qr(text: str) -> EhcQrCode:
    """Parse QR text; InvalidEhcCode with reason "format", "ehc_id" or "validity"."""
    parts = text.strip().split(":")
    ehc_id = parts[0].upper()
    if len(parts) not in (2, 3) or parts[1] not in ("0", "1") or (parts[1] == "1") != (len(parts) == 2):
        raise InvalidEhcCode("format", "EHC QR text is <EHC ID>:1 or <EHC ID>:0:<validity>")
    if not HEX64.fullmatch(ehc_id):
        raise InvalidEhcCode("ehc_id", f"EHC ID {mask_identifier(ehc_id)} is not 64 hex characters")
    if len(parts) == 2:
        return EhcQrCode(ehc_id=ehc_id, dynamic=False, encrypted_validity=None)
    validity = parts[2].upper()
    if not _VALIDITY.fullmatch(validity):
        raise InvalidEhcCode("validity", "the validity of a dynamic EHC QR code is 32 hex characters")
    return EhcQrCode(ehc_id=ehc_id, dynamic=True, encrypted_validity=validity)
