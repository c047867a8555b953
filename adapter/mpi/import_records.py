"""One line of a bulk import file (NDJSON) -> an ImportRecord: the person's facts and insurance.

The line format (docs/mpi.md; ``dualcode sandbox export`` writes it)::

    {"id_number": "…", "certificate_type": "01", "name": "…", "sex": "1", "birth_date": "1990-01-01",
     "ethnicity": "01", "phone": "…", "address": "…", "ssn": "…", "ssc_card_number": "…",
     "ssc_identification_code": "…", "ehc_master_index": "…", "ehc_id": "…", "nhsa_psn_no": "…",
     "insurance": [{"insutype": "310", "insuplc_admdvs": "371602", "psn_insu_stas": "1", …}]}

Every field but one identifier is optional. ``insurance`` items are NHSA 1101 ``insuinfo`` entries
and need ``nhsa_psn_no``. Errors are ValueError with a message that never carries a personal value
(ID numbers appear masked, as the identity-document checks print them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from adapter.json_codec import load_json
from mappings.codes import IdentifierKey, IdentifierSystems
from mappings.identity_documents import parse_id_number
from mappings.person import RESIDENT_ID, PersonFacts, identifier_of

# File field -> the identifier it carries (the ID number is the certificate, not in this table).
IDENTIFIER_FIELDS: Final = (
    ("ssn", IdentifierKey.SSN),
    ("ssc_card_number", IdentifierKey.SSC_CARD_NUMBER),
    ("ssc_identification_code", IdentifierKey.SSC_IDENTIFICATION_CODE),
    ("ehc_master_index", IdentifierKey.EHC_MASTER_INDEX),
    ("ehc_id", IdentifierKey.EHC_ID),
    ("nhsa_psn_no", IdentifierKey.NHSA_PSN_NO),
)
_TEXT_FIELDS: Final = ("name", "sex", "ethnicity", "phone", "address")


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One person of an import file: what the file says, and their insurance (insuinfo entries)."""

    facts: PersonFacts
    psn_no: str | None = field(default=None, repr=False)
    insurance: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)


def parse_line(line: str | bytes, *, systems: IdentifierSystems, source: str, today: date) -> ImportRecord:
    try:
        row = load_json(line if isinstance(line, bytes) else line.encode())
    except ValueError:  # not JSON, or not UTF-8
        raise ValueError("not a JSON object") from None
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    return parse_record(row, systems=systems, source=source, today=today)


def parse_record(
    row: Mapping[str, Any], *, systems: IdentifierSystems, source: str, today: date
) -> ImportRecord:
    certificate_type = _text(row, "certificate_type") or RESIDENT_ID
    id_number = _text(row, "id_number")
    if id_number and certificate_type == RESIDENT_ID:
        id_number = parse_id_number(id_number, today=today).number  # check char, date, region
    identifiers = tuple(
        identifier_of(systems, key, value) for name, key in IDENTIFIER_FIELDS if (value := _text(row, name))
    )
    facts = PersonFacts(
        source=source,
        identifiers=identifiers,
        id_number=id_number,
        certificate_type=certificate_type,
        birth_date=_birth_date(row),
        **{name: _text(row, name) for name in _TEXT_FIELDS},
    )
    if not facts.all_identifiers(systems):
        raise ValueError("the person has no identifier (id_number or a card number is needed)")
    insurance = row.get("insurance") or []
    if not isinstance(insurance, list) or not all(isinstance(item, dict) for item in insurance):
        raise ValueError("insurance must be a list of insuinfo objects")
    psn_no = _text(row, "nhsa_psn_no")
    if insurance and not psn_no:
        raise ValueError("insurance needs nhsa_psn_no")
    for item in insurance:
        if not _text(item, "insutype") or not _text(item, "insuplc_admdvs"):
            raise ValueError("an insurance entry needs insutype and insuplc_admdvs")
    return ImportRecord(facts, psn_no, tuple(insurance))


def _text(row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if type(value) is str:  # the usual case, checked first: an import calls this ~17 times a line
        return value.strip() or None
    if not isinstance(value, str | int):
        raise ValueError(f"{name} must be a string")
    return str(value).strip() or None


def _birth_date(row: Mapping[str, Any]) -> date | None:
    text = _text(row, "birth_date")
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("birth_date is not an ISO date (yyyy-mm-dd)") from None
