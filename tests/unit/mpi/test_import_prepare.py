"""What the import's workers prepare is exactly what the ordinary write path stores: the same
Patient and Coverage bytes (before encryption), the same token rows and identity links; the fast
parts (orjson, remembered digests, the flat pickle) change nothing a reader can see."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from adapter.json_codec import dump_json
from adapter.mpi.coverages import coverage_tokens, coverages_for
from adapter.mpi.import_prepare import PreparedChunk, PreparedPerson, Preparer, link_order
from adapter.mpi.import_records import parse_line, parse_record
from adapter.mpi.tokens import patient_index_tokens
from adapter.storage import SearchToken, Vault
from adapter.storage.shared import stamp, token_keys
from adapter.storage.sql.bulk import (
    SealedLink,
    SealedResource,
    TokenDigests,
    link_hash,
    seal_resource,
)
from mappings.person import coverage_from_insurance, patient_from_facts
from sandbox.export import ExportSpec, export_file
from tests.unit.mpi.people import SYSTEMS

TODAY = date(2026, 11, 29)
SOURCE = "his:import"


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, bytes]]:
    path = Path(tmp_path_factory.mktemp("prepare")) / "people.ndjson"
    export_file(ExportSpec(count=300, seed=11, today=TODAY), path)
    return list(enumerate(path.read_bytes().splitlines(keepends=True), start=1))


def _ordinary_rows(vault: Vault, body: dict[str, Any], tokens: Any) -> set[tuple[str, str, str, str]]:
    """The token rows ``create_many`` writes for this body."""
    kind, rid = body["resourceType"], body["id"]
    return {(kind, param, vault.blind_index(key), rid) for param, key in token_keys(tokens)}


def _opened(vault: Vault, sealed: SealedResource) -> bytes:
    return vault.decrypt(sealed.body, aad=f"{sealed.resource_type}/{sealed.id}/1".encode())


def test_prepared_people_are_what_the_ordinary_path_writes(lines: list[tuple[int, bytes]]) -> None:
    vault = Vault.generate()
    chunk = Preparer(vault, systems=SYSTEMS, source=SOURCE, today=TODAY).prepare(lines)
    assert (len(chunk.people), chunk.rejected, chunk.lines) == (300, (), 300)
    now = chunk.last_updated
    for person in chunk.people:
        record = parse_line(person.line, systems=SYSTEMS, source=SOURCE, today=TODAY)
        patient = patient_from_facts(record.facts, SYSTEMS, patient_id=person.patient_id)
        coverages = coverages_for(
            person.patient_id, record.insurance, psn_no=record.psn_no or "", systems=SYSTEMS
        )
        expected = [(patient, patient_index_tokens(patient)), *((c, coverage_tokens(c)) for c in coverages)]
        assert len(person.resources) == len(expected)
        for sealed, (body, tokens) in zip(person.resources, expected, strict=True):
            # byte for byte the JSON create_many encrypts (dump_json of the stamped body)
            assert _opened(vault, sealed) == dump_json(
                stamp(body, resource_id=body["id"], version_id=1, last_updated=now)
            )
            assert set(sealed.tokens) == _ordinary_rows(vault, body, tokens)
            assert len(sealed.tokens) == len(set(sealed.tokens))
        identifiers = link_order(record, SYSTEMS)
        assert [link.value_hash for link in person.links] == [
            link_hash(vault, i.system, i.value) for i in identifiers
        ]
        assert [
            vault.decrypt(link.value, aad=f"identity/{link.value_hash}".encode()).decode()
            for link in person.links
        ] == [i.value for i in identifiers]


def test_a_prepared_chunk_crosses_processes_unchanged(lines: list[tuple[int, bytes]]) -> None:
    vault = Vault.generate()
    chunk = Preparer(vault, systems=SYSTEMS, source=SOURCE, today=TODAY).prepare(
        [*lines[:20], (999, b"{not json\n")]
    )
    again = pickle.loads(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(again, PreparedChunk)
    assert again == chunk
    assert again.rejected == ((999, "not a JSON object"),)
    person = again.people[0]
    assert type(person) is PreparedPerson
    assert type(person.links[0]) is SealedLink
    assert type(person.resources[0]) is SealedResource
    assert person.resources[0].tokens == chunk.people[0].resources[0].tokens


def test_remembered_digests_are_the_vaults(lines: list[tuple[int, bytes]]) -> None:
    vault = Vault.generate()
    digests = TokenDigests(vault, repeating=("gender",), limit=3)
    keys = [f"\x00male{n % 5}" for n in range(20)]  # repeats, and more than the limit holds
    assert [digests("gender", k) for k in keys] == [vault.blind_index(k) for k in keys]
    assert [digests("identifier", k) for k in keys] == [vault.blind_index(k) for k in keys]
    body = {"resourceType": "Patient", "id": "p1", "gender": "male"}
    tokens = [SearchToken("gender", "http://hl7.org/fhir/administrative-gender", "male")]
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert (
        seal_resource(vault, body, tokens, last_updated=now, digests=digests).tokens
        == seal_resource(vault, body, tokens, last_updated=now).tokens
    )


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient", "id": "a", "active": True, "name": [{"text": "欧阳娜娜"}]},
        {"text": 'quote " backslash \\ slash / tab \t newline \n nul \x00 unit \x1f del \x7f'},
        {"astral": "𠀀𪚥 and a line separator \u2028", "n": [0, -1, 2**63 - 1], "none": None, "no": False},
        {"big": 2**70},  # beyond orjson's integers: json takes it
    ],
)
def test_sealed_bodies_are_the_json_modules_bytes(body: dict[str, Any]) -> None:
    # seal_resource encrypts dump_json's bytes (orjson): for these bodies json would write the same
    assert dump_json(body) == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def test_lines_read_as_json_reads_them(lines: list[tuple[int, bytes]]) -> None:
    for _, line in lines[:100]:
        fast = parse_line(line, systems=SYSTEMS, source=SOURCE, today=TODAY)
        assert fast == parse_record(json.loads(line), systems=SYSTEMS, source=SOURCE, today=TODAY)
    first = lines[0][1]
    with_bom = b"\xef\xbb\xbf" + first  # a file saved with a byte order mark: json takes it
    assert parse_line(with_bom, systems=SYSTEMS, source=SOURCE, today=TODAY) == parse_line(
        first, systems=SYSTEMS, source=SOURCE, today=TODAY
    )
    with pytest.raises(ValueError, match="name must be a string"):  # NaN: json reads it, as before
        parse_line(first.replace(b'"name":', b'"name":NaN,"x":'), systems=SYSTEMS, source=SOURCE, today=TODAY)
    for bad in (b"{not json", b'{"name": "\xff"}', b"[1, 2]"):
        with pytest.raises(ValueError, match="not a JSON object"):
            parse_line(bad, systems=SYSTEMS, source=SOURCE, today=TODAY)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2017-02-12", "2017-02-12"),
        ("2017-02-12 08:30:00", "2017-02-12"),
        ("20170212", "2017-02-12"),
        ("2017-2-3", "2017-02-03"),  # not zero-padded: strptime's reading, as before
        ("２０１７-02-12", "2017-02-12"),  # full-width digits: strptime takes them, as before
        ("  2016-09-27  ", "2016-09-27"),
        ("", None),
    ],
)
def test_insurance_dates_read_as_before(given: str, expected: str | None) -> None:
    item = {"insutype": "390", "insuplc_admdvs": "371602", "psn_insu_stas": "1", "psn_insu_date": given}
    body = coverage_from_insurance("Patient/p", item, psn_no="37160000000000000001", systems=SYSTEMS)
    assert body.get("period", {}).get("start") == expected


@pytest.mark.parametrize("given", ["2017-02-30", "2017-13-01", "0000-01-01", "tomorrow"])
def test_impossible_insurance_dates_are_refused_as_before(given: str) -> None:
    item = {"insutype": "390", "insuplc_admdvs": "371602", "psn_insu_stas": "1", "psn_insu_date": given}
    with pytest.raises(ValueError, match="not yyyy-MM-dd"):
        coverage_from_insurance("Patient/p", item, psn_no="37160000000000000001", systems=SYSTEMS)
