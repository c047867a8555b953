"""Masking of identifiers for messages and logs: `3716**********1234`."""

from __future__ import annotations

KEEP_START = 4
KEEP_END = 4
# At least this many characters stay hidden, so short values are masked whole.
_MIN_HIDDEN = 4
# Garbage input can be long; the mask then shows a count instead of one star per character.
_MAX_STARS = 24


def mask_identifier(value: str) -> str:
    """Keep the first 4 and last 4 characters; hide everything when that would reveal most of it."""
    if len(value) < KEEP_START + KEEP_END + _MIN_HIDDEN:
        return "*" * min(len(value), _MAX_STARS)
    hidden = len(value) - KEEP_START - KEEP_END
    stars = "*" * hidden if hidden <= _MAX_STARS else f"*[{hidden} chars]*"
    return f"{value[:KEEP_START]}{stars}{value[-KEEP_END:]}"
