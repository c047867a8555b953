"""Helpers shared by the mappings tests."""

from __future__ import annotations

from datetime import date

# Every test passes `today` in: mappings never reads a clock.
TODAY = date(2025, 6, 1)


def reference_check_char(body: str) -> str:
    """An independent oracle for ISO 7064 MOD 11-2: weight = 2^(17-i) mod 11, check = (12 - S) mod 11."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def with_check_char(body: str) -> str:
    return body + reference_check_char(body)
