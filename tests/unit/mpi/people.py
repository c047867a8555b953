"""Synthetic people for the MPI tests: valid ID numbers (Binzhou region codes, MOD 11-2 check
character from mappings), made-up names and card numbers. No real person is described."""

from __future__ import annotations

from datetime import date
from typing import Any

from mappings.codes import IdentifierKey, identifier_systems
from mappings.identity_documents import mod11_2_check_char
from mappings.person import PersonFacts, identifier_of

SYSTEMS = identifier_systems()
ID_SYSTEM = SYSTEMS.system(IdentifierKey.ID_NUMBER)
EHC_SYSTEM = SYSTEMS.system(IdentifierKey.EHC_ID)
BINZHOU = ("371602", "371603", "371621", "371622", "371623", "371625", "371681")


def id_number(
    serial: int, *, born: date = date(1990, 1, 1), male: bool = True, region: str = BINZHOU[0]
) -> str:
    """A valid 18-digit ID number; ``serial`` picks the 3-digit sequence (odd = male)."""
    sequence = (serial * 2 + (1 if male else 0)) % 1000
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    return body + mod11_2_check_char(body)


def ehc_id(serial: int) -> str:
    return f"{serial:064X}"


def person(serial: int = 1, *, source: str = "ehc", name: str = "张伟", **changes: Any) -> PersonFacts:
    born = changes.pop("born", date(1990, 1, 1))
    male = changes.pop("male", True)
    base: dict[str, Any] = {
        "source": source,
        "id_number": id_number(serial, born=born, male=male),
        "name": name,
        "sex": "1" if male else "2",
        "birth_date": born,
        "identifiers": (identifier_of(SYSTEMS, IdentifierKey.EHC_ID, ehc_id(serial)),),
    }
    base.update(changes)
    return PersonFacts(**base)


def demographics(
    name: str, *, born: date | None = date(1990, 1, 1), sex: str = "1", **more: Any
) -> PersonFacts:
    """Facts without any identifier: only for matching."""
    return PersonFacts(source="his:H001", name=name, birth_date=born, sex=sex, id_number=None, **more)
