"""ISO 7064 MOD 11-2 check character of GB 11643 (and of the 2023 foreign permanent resident ID)."""

from __future__ import annotations

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # indexed by (sum of digit x weight) mod 11


def mod11_2_check_char(body: str) -> str:
    """The check character for a 17-digit body."""
    if len(body) != len(WEIGHTS) or not body.isascii() or not body.isdigit():
        raise ValueError("the body is 17 ASCII digits")
    return CHECK_CHARS[sum(int(digit) * weight for digit, weight in zip(body, WEIGHTS, strict=True)) % 11]
