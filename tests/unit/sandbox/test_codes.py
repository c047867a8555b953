"""Codes the simulator issues round-trip through its own verification and through mappings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mappings.cards import decrypt_validity, parse_ehc_qr, parse_ssc_reader_line, validity_to_utc
from sandbox.codes import CodeBook
from sandbox.config import DEFAULT_PROTECTION_KEY, DEFAULT_ROOT_KEY
from sandbox.people import Person
from sandbox.population import Population
from sandbox.refusals import Refusal

START = datetime(2026, 6, 1, 8, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def population() -> Population:
    made = Population(seed=11, root_key=DEFAULT_ROOT_KEY, today=date(2026, 6, 1))
    made.ensure(3)
    return made


@pytest.fixture
def book(population: Population, clock: Clock) -> CodeBook:
    return CodeBook(population, protection_key=DEFAULT_PROTECTION_KEY, ttl_s=60, static_limit=3, clock=clock)


@pytest.fixture
def person(population: Population) -> Person:
    return population.people()[0]


def refusal(action: object) -> str:
    assert callable(action)
    with pytest.raises(Refusal) as caught:
        action()
    return caught.value.problem


@pytest.mark.parametrize("kind", ["essc", "nhsa"])
def test_opaque_codes_verify_once_within_their_lifetime(
    book: CodeBook, person: Person, clock: Clock, kind: str
) -> None:
    issued = book.issue(kind, person)  # type: ignore[arg-type]
    assert issued.expires_at == START + timedelta(seconds=60)
    assert book.redeem(issued.code, kind).person is person  # type: ignore[arg-type]
    assert refusal(lambda: book.redeem(issued.code, kind)) == "used"  # type: ignore[arg-type]
    late = book.issue(kind, person)  # type: ignore[arg-type]
    clock.advance(61)
    assert refusal(lambda: book.redeem(late.code, kind)) == "expired"  # type: ignore[arg-type]
    assert refusal(lambda: book.redeem("never-issued", kind)) == "unknown_code"  # type: ignore[arg-type]


def test_an_essc_code_is_not_an_nhsa_code(book: CodeBook, person: Person) -> None:
    issued = book.issue("essc", person)
    assert refusal(lambda: book.redeem(issued.code, "nhsa")) == "unknown_code"


def test_dynamic_ehc_code_follows_the_specification(book: CodeBook, person: Person, clock: Clock) -> None:
    issued = book.issue("ehc", person, ttl_s=30)
    qr = parse_ehc_qr(issued.code)
    assert qr.dynamic and qr.ehc_id == person.ehc_id and qr.encrypted_validity is not None
    valid_until = validity_to_utc(decrypt_validity(DEFAULT_PROTECTION_KEY, qr.encrypted_validity))
    assert valid_until == issued.expires_at == START + timedelta(seconds=30)
    verified = book.redeem_ehc(issued.code.lower())
    assert verified.person is person and verified.surplus == 0
    assert refusal(lambda: book.redeem_ehc(issued.code)) == "used"
    expired = book.issue("ehc", person, ttl_s=30)  # same second: valid one second longer (unique text)
    assert expired.expires_at == START + timedelta(seconds=31)
    clock.advance(32)
    assert refusal(lambda: book.redeem_ehc(expired.code)) == "expired"


def test_two_dynamic_codes_in_one_second_differ(book: CodeBook, person: Person) -> None:
    first, second = book.issue("ehc", person), book.issue("ehc", person)
    assert first.code != second.code
    assert book.redeem_ehc(first.code).person is book.redeem_ehc(second.code).person


def test_forged_validity_and_tampered_ehc_id_are_forged(book: CodeBook, person: Person) -> None:
    ehc_id, _, validity = book.issue("ehc", person).code.split(":")
    assert refusal(lambda: book.redeem_ehc(f"{ehc_id}:0:{'A' * 32}")) == "forged"
    assert refusal(lambda: book.redeem_ehc(f"{'0' * 64}:0:{validity}")) == "forged"
    assert refusal(lambda: book.redeem_ehc("not a qr code")) == "unknown_code"


def test_static_ehc_code_counts_down_its_verifications(book: CodeBook, person: Person) -> None:
    issued = book.issue("ehc-static", person)
    assert issued.code == f"{person.ehc_id}:1" and issued.expires_at is None
    assert [book.redeem_ehc(issued.code).surplus for _ in range(3)] == [2, 1, 0]
    assert refusal(lambda: book.redeem_ehc(issued.code)) == "used"


def test_suspension_refuses_opaque_codes_but_ehc_reports_it(
    book: CodeBook, person: Person, population: Population
) -> None:
    essc, ehc = book.issue("essc", person), book.issue("ehc", person)
    population.set_suspended(person, True)
    assert refusal(lambda: book.redeem(essc.code, "essc")) == "suspended"
    assert book.redeem_ehc(ehc.code).person is person  # the EHC platform answers card_status 2


def test_reader_line_parses_with_mappings(book: CodeBook, person: Person) -> None:
    issued = book.issue("ssc-reader", person)
    assert issued.expires_at is None
    read = parse_ssc_reader_line(issued.code, today=date(2026, 6, 1))
    assert read.ssn == person.id_number and read.name == person.name
    assert read.card_number == person.ssc_card_number
    assert read.identification_code == person.ssc_identification_code and read.generation == 3


def test_ec_tokens_name_their_person_until_they_expire(book: CodeBook, person: Person, clock: Clock) -> None:
    token = book.issue_token(person)
    assert book.person_for_token(token) is person
    assert book.person_for_token("EC-unknown") is None
    clock.advance(601)
    assert book.person_for_token(token) is None
