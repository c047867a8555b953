"""Reading the facts in a platform's answer: text fields, dates, the holder's ID number. A platform
answer that names no valid person is refused, never passed on half-read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from adapter.cards.errors import CardProblem, card_error
from adapter.cards.holder import RESIDENT_ID, Source
from mappings import InvalidIdNumber
from mappings.cards import CHINA_STANDARD_TIME
from mappings.identity_documents import IdNumber, parse_id_number


def field_text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def required_text(data: dict[str, Any], name: str, *, source: Source) -> str:
    value = field_text(data, name)
    if not value:
        raise card_error(CardProblem.UNAVAILABLE, f"the {source} platform answered without {name}")
    return value


def object_field(answer: dict[str, Any], name: str, *, source: Source) -> dict[str, Any]:
    value = answer.get(name)
    if not isinstance(value, dict):
        raise card_error(CardProblem.UNAVAILABLE, f"the {source} platform answered without {name}")
    return value


def china_today() -> date:
    """Today on the platforms' wall clock (an ID number's birth date may not lie after it)."""
    return datetime.now(CHINA_STANDARD_TIME).date()


def holder_id_number(cert_type: str, number: str, *, source: Source, today: date) -> IdNumber | None:
    """The parsed resident ID for certificate type 01 (None for other documents)."""
    return resident_id(number, source=source, today=today) if cert_type == RESIDENT_ID else None


def resident_id(number: str, *, source: Source, today: date) -> IdNumber:
    try:
        return parse_id_number(number, today=today)
    except InvalidIdNumber as error:
        raise card_error(
            CardProblem.INVALID_CARD_READ, f"the {source} platform answered an invalid ID number: {error}"
        ) from None


def parse_date(text: str) -> date | None:
    """yyyyMMdd or yyyy-MM-dd; None for anything else (informational fields are never fatal)."""
    digits = text.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def parse_amount(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
