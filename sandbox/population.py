"""The SIMULATOR's shared population: held in memory, indexed by every identifier, optionally saved
to a JSON file (rewritten whole after each change; the sandbox is for demos and tests, not load)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from mappings.cards import ehc_id
from sandbox.people import RESIDENT_ID_CERT_TYPE, Person, make_person

_DATE_FIELDS = frozenset(f.name for f in fields(Person) if f.type in ("date", date))


class Population:
    """People by ID number, EHC ID, card number and psn_no; which cards are suspended."""

    def __init__(self, *, seed: int, root_key: bytes, today: date, path: Path | None = None) -> None:
        self.seed = seed
        self._root_key = root_key
        self.today = today
        self._path = path
        self._lock = threading.Lock()
        self._people: list[Person] = []
        self._by_id_number: dict[str, Person] = {}
        self._by_ehc_id: dict[str, Person] = {}
        self._by_card_number: dict[str, Person] = {}
        self._by_psn_no: dict[str, Person] = {}
        self._suspended: set[str] = set()  # ID numbers whose cards are suspended
        if path is not None and path.exists():
            self._load(path)

    def __len__(self) -> int:
        return len(self._people)

    def grow(self, count: int) -> list[Person]:
        """Create `count` more people (the next indexes of this seed) and return them."""
        with self._lock:
            made = []
            for _ in range(count):
                person = self._make(len(self._people))
                self._add(person)
                made.append(person)
            self._save()
            return made

    def register(
        self,
        *,
        id_number: str,
        name: str,
        sex: str,
        birth_date: date | None,
        phone: str | None,
        address: str | None,
    ) -> Person:
        """Add a person whose identity is given (the EHC register call); the cards are generated."""
        with self._lock:
            template = self._make(len(self._people))
            person = replace(
                template,
                id_number=id_number,
                name=name,
                sex=sex,
                birth_date=birth_date or template.birth_date,
                phone=phone or template.phone,
                address=address or template.address,
                ehc_id=ehc_id(
                    template.ehc_master_index,
                    root_key=self._root_key,
                    cert_type=RESIDENT_ID_CERT_TYPE,
                    cert_number=id_number,
                ),
            )
            self._add(person)
            self._save()
            return person

    def ensure(self, count: int) -> None:
        """Grow to at least `count` people (a saved file may already hold more)."""
        if len(self) < count:
            self.grow(count - len(self))

    def people(self, limit: int | None = None) -> list[Person]:
        return list(self._people[:limit])

    def by_id_number(self, id_number: str) -> Person | None:
        return self._by_id_number.get(id_number.strip().upper())

    def by_ehc_id(self, ehc_id: str) -> Person | None:
        return self._by_ehc_id.get(ehc_id.upper())

    def by_card_number(self, card_number: str) -> Person | None:
        return self._by_card_number.get(card_number.upper())

    def by_psn_no(self, psn_no: str) -> Person | None:
        return self._by_psn_no.get(psn_no)

    def is_suspended(self, person: Person) -> bool:
        return person.id_number in self._suspended

    def set_suspended(self, person: Person, suspended: bool) -> None:
        with self._lock:
            if suspended:
                self._suspended.add(person.id_number)
            else:
                self._suspended.discard(person.id_number)
            self._save()

    def _make(self, index: int) -> Person:
        return make_person(
            self.seed, index, root_key=self._root_key, today=self.today, taken=self._by_id_number
        )

    def _add(self, person: Person) -> None:
        self._people.append(person)
        self._by_id_number[person.id_number] = person
        self._by_ehc_id[person.ehc_id] = person
        self._by_card_number[person.ssc_card_number] = person
        self._by_psn_no[person.nhsa_psn_no] = person

    def _save(self) -> None:
        if self._path is None:
            return
        document = {
            "note": "SIMULATOR population (dualcode sandbox): synthetic people only",
            "seed": self.seed,
            "suspended": sorted(self._suspended),
            "people": [_to_json(p) for p in self._people],
        }
        # Write then rename, so a crash never leaves half a file.
        temporary = self._path.with_suffix(self._path.suffix + ".tmp")
        temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, self._path)

    def _load(self, path: Path) -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("seed") != self.seed:
            raise ValueError(f"{path} holds the population of seed {document.get('seed')}, not {self.seed}")
        for row in document["people"]:
            self._add(_from_json(row))
        self._suspended = set(document.get("suspended", []))


def _to_json(person: Person) -> dict[str, Any]:
    row = asdict(person)
    for name in _DATE_FIELDS:
        row[name] = row[name].isoformat()
    return row


def _from_json(row: dict[str, Any]) -> Person:
    values = dict(row)
    for name in _DATE_FIELDS:
        values[name] = date.fromisoformat(values[name])
    return Person(**values)
