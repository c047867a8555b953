"""The errors `mappings` raises for bad input: each is a ValueError with a stable `reason` code.

Messages never carry a full identifier (see `mask_identifier`), so they are safe to log and return.
"""

from __future__ import annotations

from typing import Literal

IdNumberProblem = Literal["length", "format", "check_char", "date", "future_date", "region"]
SscReadProblem = Literal[
    "format",
    "region",
    "card_number",
    "identification_code",
    "region_mismatch",
    "spec_version",
    "ssn_missing",
    "name_missing",
]
EhcProblem = Literal["format", "ehc_id", "master_index", "certificate", "validity", "forged_validity"]


class MappingInputError(ValueError):
    """Input that cannot be translated; `reason` is a short stable code callers map to their own errors."""

    reason: str

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidIdNumber(MappingInputError):
    """A resident ID number, residence permit number or foreign permanent resident ID that is not valid."""

    reason: IdNumberProblem

    def __init__(self, reason: IdNumberProblem, message: str) -> None:
        super().__init__(reason, message)


class InvalidSscRead(MappingInputError):
    """A social security card reader line that cannot be taken as a card holder."""

    reason: SscReadProblem

    def __init__(self, reason: SscReadProblem, message: str) -> None:
        super().__init__(reason, message)


class SscSsnMissing(InvalidSscRead):
    """The card answered without SSN (a 3rd-generation card read without PSAM or HSM): no person known."""

    def __init__(self, message: str) -> None:
        super().__init__("ssn_missing", message)


class InvalidEhcCode(MappingInputError):
    """An electronic health card QR text, EHC ID, master index or dynamic validity that is not valid."""

    reason: EhcProblem

    def __init__(self, reason: EhcProblem, message: str) -> None:
        super().__init__(reason, message)
