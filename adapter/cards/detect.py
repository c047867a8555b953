"""Tell a scanned code's kind from its shape, for callers that do not say which kind it is."""

from __future__ import annotations

import re

from adapter.cards.errors import CardProblem, card_error
from adapter.cards.holder import CardKind
from mappings.cards import looks_like_ehc_qr
from mappings.identity_documents import normalise_id_number

# Shape only (validity is checked later): 18 with a check char, 15 legacy digits, 2017 foreign form.
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}|[A-Z]{3}[0-9]{12}")


def detect_kind(
    code: str,
    *,
    default: CardKind | None = None,
    prefixes: tuple[tuple[str, CardKind], ...] = (),
) -> CardKind:
    """EHC QR text, SSC reader line, ID number, a configured prefix, else `default`.

    eSSC and NHSA codes are opaque (their layout is unpublished), so only configuration can route
    them; without a default an unrecognised code is refused (CardProblem.UNKNOWN_SHAPE)."""
    text = code.strip()
    if looks_like_ehc_qr(text):
        return "ehc"
    if "|" in text:
        return "ssc"
    if _ID_NUMBER.fullmatch(normalise_id_number(text)):
        return "idcard"
    for prefix, kind in prefixes:
        if text.startswith(prefix):
            return kind
    if default is not None and text:
        return default
    raise card_error(CardProblem.UNKNOWN_SHAPE, "the code's kind cannot be told from its shape; give kind")
