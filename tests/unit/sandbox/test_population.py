"""The simulator's synthetic population is valid by every rule mappings knows, and deterministic."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.cards import ehc_id
from mappings.codes import ethnicities, insurance_types
from mappings.identity_documents import IdNumberKind, parse_id_number
from sandbox.config import DEFAULT_ROOT_KEY
from sandbox.people import BINZHOU_COUNTIES, make_person
from sandbox.population import Population

TODAY = date(2026, 6, 1)


def population(seed: int = 1, count: int = 300, path: Path | None = None) -> Population:
    made = Population(seed=seed, root_key=DEFAULT_ROOT_KEY, today=TODAY, path=path)
    made.ensure(count)
    return made


def test_every_id_number_passes_the_parser_and_matches_the_person() -> None:
    for person in population().people():
        parsed = parse_id_number(person.id_number, today=TODAY)
        assert parsed.kind is IdNumberKind.RESIDENT
        assert parsed.region_code in BINZHOU_COUNTIES
        assert parsed.sex == person.sex and parsed.birth_date == person.birth_date


def test_every_ehc_id_recomputes_from_the_master_index() -> None:
    for person in population(count=50).people():
        assert person.ehc_id == ehc_id(
            person.ehc_master_index, root_key=DEFAULT_ROOT_KEY, cert_type="01", cert_number=person.id_number
        )


def test_cards_and_codes_have_their_published_shapes() -> None:
    people = population().people()
    for person in people:
        assert len(person.ssc_card_number) == 9 and person.ssc_card_number.isalnum()
        code = person.ssc_identification_code
        assert len(code) == 32 and code.startswith("371600D156000005") and int(code, 16) >= 0
        assert len(person.ehc_master_index) == 64 and int(person.ehc_master_index, 16) >= 0
        assert person.insutype in ("310", "390") and person.insutype in insurance_types()
        assert person.ethnicity in ethnicities()
        assert person.insuplc_admdvs.startswith("3716")
        assert person.sex in ("1", "2") and len(person.name) in (2, 3)
    for attribute in ("id_number", "ssc_card_number", "ehc_id", "nhsa_psn_no"):
        assert len({getattr(p, attribute) for p in people}) == len(people), attribute


def test_the_same_seed_gives_the_same_people_and_growth_keeps_them() -> None:
    first, second = population(seed=5, count=20), population(seed=5, count=10)
    second.grow(10)
    assert first.people() == second.people()
    assert population(seed=6, count=20).people() != first.people()


def test_a_taken_id_number_is_skipped_deterministically() -> None:
    person = make_person(3, 0, root_key=DEFAULT_ROOT_KEY, today=TODAY, taken=())
    again = make_person(3, 0, root_key=DEFAULT_ROOT_KEY, today=TODAY, taken={person.id_number})
    assert again.id_number != person.id_number
    assert parse_id_number(again.id_number, today=TODAY).birth_date == person.birth_date


def test_lookups_by_every_identifier() -> None:
    people = population(count=5)
    person = people.people()[3]
    assert people.by_id_number(person.id_number.lower()) is person
    assert people.by_ehc_id(person.ehc_id.lower()) is person
    assert people.by_card_number(person.ssc_card_number) is person
    assert people.by_psn_no(person.nhsa_psn_no) is person
    assert people.by_id_number("110105194912310021") is None


def test_the_repr_shows_no_identity() -> None:
    person = population(count=1).people()[0]
    shown = repr(person)
    assert person.id_number not in shown and person.name not in shown and person.phone not in shown


def test_persisted_population_comes_back_with_suspensions(tmp_path: Path) -> None:
    path = tmp_path / "people.json"
    saved = population(seed=9, count=4, path=path)
    saved.set_suspended(saved.people()[1], True)
    registered = saved.register(
        id_number="371602199003070022", name="测试人", sex="2", birth_date=None, phone=None, address=None
    )
    loaded = population(seed=9, count=2, path=path)
    assert loaded.people() == saved.people() and len(loaded) == 5
    assert loaded.is_suspended(loaded.people()[1]) and not loaded.is_suspended(loaded.people()[0])
    assert loaded.by_id_number("371602199003070022") == registered
    assert registered.ehc_id == ehc_id(
        registered.ehc_master_index,
        root_key=DEFAULT_ROOT_KEY,
        cert_type="01",
        cert_number="371602199003070022",
    )
    with pytest.raises(ValueError, match="seed"):
        population(seed=10, count=1, path=path)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), index=st.integers(min_value=0, max_value=10**7))
def test_any_person_of_any_seed_is_valid(seed: int, index: int) -> None:
    person = make_person(seed, index, root_key=DEFAULT_ROOT_KEY, today=TODAY, taken=())
    assert parse_id_number(person.id_number, today=TODAY).birth_date == person.birth_date
    assert person.ehc_id == ehc_id(
        person.ehc_master_index, root_key=DEFAULT_ROOT_KEY, cert_type="01", cert_number=person.id_number
    )
    assert len(person.ssc_card_number) == 9 and len(person.nhsa_psn_no) == 20
