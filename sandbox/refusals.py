"""Why a SIMULATED platform refuses a request; each platform renders these in its own error format."""

from __future__ import annotations

from typing import Literal

Problem = Literal[
    "expired",  # a dynamic code past its validity
    "used",  # a code verified as often as allowed (replay)
    "unknown_code",  # never issued, or garbled
    "forged",  # an EHC validity that does not decrypt, or an EHC ID that names no card
    "suspended",  # the card is suspended
    "unknown_person",  # no such person on this platform
    "bad_request",  # a required field is missing or malformed
]


class Refusal(Exception):
    """A business refusal of a simulated platform (not an outage)."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem: Problem = problem
        self.message = message
