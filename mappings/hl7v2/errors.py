"""The error the HL7 v2 parser raises: a MappingInputError with a stable reason and a location."""

from __future__ import annotations

from mappings.errors import MappingInputError


class Hl7ParseError(MappingInputError):
    """Text that is not an HL7 v2 message. `location` is HL7 style (``MSH-1``, ``segment 4``)."""

    def __init__(self, reason: str, message: str, *, location: str = "") -> None:
        super().__init__(reason, message)
        self.location = location
