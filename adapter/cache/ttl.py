"""TTL rules both cache implementations share, so they accept and refuse the same values."""

from __future__ import annotations

import math


def check_ttl(ttl_s: float) -> None:
    # Every entry must expire: a zero, negative or infinite TTL is a caller bug, not "forever".
    if not (isinstance(ttl_s, int | float) and math.isfinite(ttl_s) and ttl_s > 0):
        raise ValueError(f"ttl_s must be a positive finite number of seconds, got {ttl_s!r}")


def ttl_ms(ttl_s: float) -> int:
    """Milliseconds for Redis PX/PEXPIRE, rounded up so a tiny TTL never becomes 0 (an error there)."""
    check_ttl(ttl_s)
    return max(1, math.ceil(ttl_s * 1000))
