"""Pure translations (no I/O, no clock, no settings). Imports nothing from the rest of dualcode.

Subpackages:
- `mappings.codes`: code tables shipped as data (GB/T 2260, GB/T 2261.1, GB 3304, WS 364, NHSA,
  identifier systems);
- `mappings.identity_documents`: ID numbers (GB 11643, residence permits, foreign permanent resident IDs);
- `mappings.cards`: the social security card reader line and the electronic health card (ID, QR, validity).
"""

from mappings.errors import (
    EhcProblem,
    IdNumberProblem,
    InvalidEhcCode,
    InvalidIdNumber,
    InvalidSscRead,
    MappingInputError,
    SscReadProblem,
    SscSsnMissing,
)
from mappings.masking import mask_identifier

__all__ = [
    "EhcProblem",
    "IdNumberProblem",
    "InvalidEhcCode",
    "InvalidIdNumber",
    "InvalidSscRead",
    "MappingInputError",
    "SscReadProblem",
    "SscSsnMissing",
    "mask_identifier",
]
