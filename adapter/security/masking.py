"""Masking of personal identifiers for logs and error messages.

Shapes follow common Chinese practice: ID numbers keep region prefix and last four
(``3716**********1234``), names keep the first character (``张*``), phones keep the carrier prefix
and last four (``138****5678``). ``mask_text`` finds ID-number- and phone-like runs in free text;
it prefers masking a harmless 15-digit number by mistake over leaking a real identifier.
"""

from __future__ import annotations

import re

MASK = "*"

# ASCII digits only ([0-9], not \d, which also matches full-width and other Unicode digits that no
# identifier uses). The look-arounds stop a match inside a longer digit run such as an account number.
_ID_OR_PHONE = re.compile(
    r"(?<![0-9])(?:"
    r"(?P<id18>[0-9]{17}[0-9Xx])"  # resident ID (GB 11643), 18 characters
    r"|(?P<id15>[0-9]{15})"  # first-generation resident ID, 15 digits
    r"|(?P<cc>\+?86[- ]?)?(?P<phone>1[3-9][0-9]{9})"  # mainland mobile, optional +86
    r")(?![0-9])"
)


def _keep_ends(value: str, head: int, tail: int) -> str:
    hidden = len(value) - head - tail
    if hidden <= 0:
        return MASK * len(value)
    return value[:head] + MASK * hidden + value[len(value) - tail :]


def mask_id_number(value: str) -> str:
    """``371602199001011234`` -> ``3716**********1234``. Short values reveal proportionally less."""
    keep = 4 if len(value) >= 12 else len(value) // 4
    return _keep_ends(value, keep, keep)


def mask_name(value: str) -> str:
    """``张三`` -> ``张*``, ``欧阳娜娜`` -> ``欧***``: first character only, one ``*`` per other one.

    A single-character value is masked entirely, since keeping it would reveal all of it. Spaces are
    kept so a Latin-script name stays readable as a shape (``Z**** S**``).
    """
    if len(value) <= 1:
        return MASK * len(value)
    return value[0] + "".join(c if c.isspace() else MASK for c in value[1:])


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``. A value too short to be a phone number is hidden whole."""
    if len(value) >= 10:
        return _keep_ends(value, 3, 4)
    return MASK * len(value)


def _mask_match(match: re.Match[str]) -> str:
    if match.group("phone") is not None:
        return (match.group("cc") or "") + mask_phone(match.group("phone"))
    return mask_id_number(match.group(0))


def mask_text(text: str) -> str:
    """Mask every ID-number-like and mobile-phone-like substring of free text."""
    return _ID_OR_PHONE.sub(_mask_match, text)
