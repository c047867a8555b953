"""What a card platform's refusal or outage becomes in the service's one error vocabulary (DC-51xx).

The problem also travels on the error as ``card_problem`` (read it with ``card_problem_of``), so
callers can branch on it without parsing messages.
"""

from __future__ import annotations

import math
from enum import StrEnum

from adapter.errors import (
    CardCodeExpired,
    CardCodeForged,
    CardCodeReplayed,
    CardCodeUnrecognised,
    CardHolderUnknown,
    CardSuspended,
    CardUseNotPermitted,
    DualcodeError,
    InvalidCardRead,
    PlatformRejected,
    UpstreamUnavailable,
)


class CardProblem(StrEnum):
    UNKNOWN_SHAPE = "unknown-shape"  # the code's kind cannot be told from its shape
    UNKNOWN_CODE = "unknown-code"  # the platform never issued this code
    EXPIRED = "expired-code"
    REPLAYED = "replayed-code"  # verified before: one verification per dynamic code
    FORGED = "forged-code"  # an EHC validity that does not decrypt, a tampered EHC ID
    SUSPENDED = "card-suspended"
    NOT_PERMITTED = "use-not-permitted"  # e.g. payment with a level-1 eSSC
    UNKNOWN_PERSON = "unknown-person"
    INVALID_CARD_READ = "invalid-card-read"  # a reader line or a platform answer naming no valid person
    REJECTED = "rejected"  # any other refusal by the platform
    UNAVAILABLE = "platform-unavailable"  # timeout, outage, open circuit, unreadable answer


_CLASSES: dict[CardProblem, type[DualcodeError]] = {
    CardProblem.UNKNOWN_SHAPE: CardCodeUnrecognised,
    CardProblem.UNKNOWN_CODE: CardCodeUnrecognised,
    CardProblem.EXPIRED: CardCodeExpired,
    CardProblem.REPLAYED: CardCodeReplayed,
    CardProblem.FORGED: CardCodeForged,
    CardProblem.SUSPENDED: CardSuspended,
    CardProblem.NOT_PERMITTED: CardUseNotPermitted,
    CardProblem.UNKNOWN_PERSON: CardHolderUnknown,
    CardProblem.INVALID_CARD_READ: InvalidCardRead,
    CardProblem.REJECTED: PlatformRejected,
    CardProblem.UNAVAILABLE: UpstreamUnavailable,
}


def card_error(problem: CardProblem, message: str, *, retry_after_s: float | None = None) -> DualcodeError:
    """The error to raise for a card problem. Messages must already be free of personal data."""
    headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))} if retry_after_s is not None else {}
    error = _CLASSES[problem](f"{message} [{problem.value}]", headers=headers)
    error.card_problem = problem  # type: ignore[attr-defined]  # interim, see the module docstring
    return error


def card_problem_of(error: BaseException) -> CardProblem | None:
    problem = getattr(error, "card_problem", None)
    return problem if isinstance(problem, CardProblem) else None
