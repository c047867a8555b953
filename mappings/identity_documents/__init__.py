"""ID numbers a person shows: GB 11643 resident IDs (18 and legacy 15 digits), Hong Kong/Macao/Taiwan
residence permits, foreign permanent resident IDs (2023 and 2017 forms)."""

from mappings.identity_documents.check_char import mod11_2_check_char
from mappings.identity_documents.foreign_permanent_id import (
    parse_foreign_permanent_id,
    parse_foreign_permanent_id_2017,
)
from mappings.identity_documents.id_number import IdNumber, IdNumberKind
from mappings.identity_documents.parse import normalise_id_number, parse_id_number
from mappings.identity_documents.resident_id import (
    parse_legacy_id,
    parse_resident_id,
    upgrade_legacy_id_number,
)

__all__ = [
    "IdNumber",
    "IdNumberKind",
    "mod11_2_check_char",
    "normalise_id_number",
    "parse_foreign_permanent_id",
    "parse_foreign_permanent_id_2017",
    "parse_id_number",
    "parse_legacy_id",
    "parse_resident_id",
    "upgrade_legacy_id_number",
]
