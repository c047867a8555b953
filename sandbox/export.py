"""The SIMULATOR's population as NDJSON, the format `dualcode mpi import` reads (docs/mpi.md), so the
patient index can be loaded with exactly the people the simulators answer for.

Person `i` of a seed is the one ``Population`` makes (same ``make_person``, same skipping of taken ID
numbers), so a sandbox started with the same seed, day and ``--people`` holds these people. People
are generated and written one at a time: a million take a few hundred MB of disk, not of memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from sandbox.config import DEFAULT_ROOT_KEY
from sandbox.people import RESIDENT_ID_CERT_TYPE, Person, make_person


@dataclass(frozen=True)
class ExportSpec:
    count: int
    seed: int
    today: date
    root_key: bytes = DEFAULT_ROOT_KEY


def people(spec: ExportSpec) -> Iterator[Person]:
    """Persons 0 … count-1 of the seed, in order, as ``Population.grow`` makes them."""
    taken: set[str] = set()
    for index in range(spec.count):
        person = make_person(spec.seed, index, root_key=spec.root_key, today=spec.today, taken=taken)
        taken.add(person.id_number)
        yield person


def import_line(person: Person) -> dict[str, Any]:
    """One line of the import file; insurance as the NHSA simulator's 1101 ``insuinfo`` reports it."""
    return {
        "id_number": person.id_number,
        "certificate_type": RESIDENT_ID_CERT_TYPE,
        "name": person.name,
        "sex": person.sex,
        "birth_date": person.birth_date.isoformat(),
        "ethnicity": person.ethnicity,
        "phone": person.phone,
        "address": person.address,
        "ssc_card_number": person.ssc_card_number,
        "ssc_identification_code": person.ssc_identification_code,
        "ehc_master_index": person.ehc_master_index,
        "ehc_id": person.ehc_id,
        "nhsa_psn_no": person.nhsa_psn_no,
        "insurance": [
            {
                "insutype": person.insutype,
                "psn_type": person.psn_type,
                "psn_insu_stas": "1",
                "insuplc_admdvs": person.insuplc_admdvs,
                "emp_name": person.emp_name,
                "psn_insu_date": person.ssc_issue_date.isoformat(),
            }
        ],
    }


def write_ndjson(spec: ExportSpec, out: TextIO) -> int:
    written = 0
    for person in people(spec):
        out.write(json.dumps(import_line(person), ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        written += 1
    return written


def export_file(spec: ExportSpec, path: Path) -> int:
    """Write the file (via a temporary name, so a half-written file never has the final name)."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        written = write_ndjson(spec, out)
    temporary.replace(path)
    return written
