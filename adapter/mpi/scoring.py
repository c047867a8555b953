"""Scoring a candidate Patient against a probe: weighted agreement of name (pinyin-aware), birth
date, sex and phone, graded certain / probable / possible.

Weights add up to 1.0 only when all four agree, so name + birth date + sex alone (common names share
birthdays in a city of millions) reaches "probable", never "certain"; an identifier hit is certain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from adapter.mpi.phonetics import readings, sounds_alike
from adapter.mpi.tokens import phones_of, primary_name, sex_code_of
from mappings.person import PersonFacts, fold_name

WEIGHTS: Final = {"name": 0.45, "birthDate": 0.35, "gender": 0.10, "phone": 0.10}
CERTAIN, PROBABLE, POSSIBLE = 0.97, 0.80, 0.55

NAME_EXACT = 1.0  # equal after simplified/traditional folding
NAME_SAME_SOUND = 0.9  # every character shares a reading: 张伟/章伟, 单/善 (shan), 曾/增 (zeng)
NAME_SIMILAR_SOUND = 0.75  # only under regional folds (zh/z, n/l, -ng/-n)


class MatchGrade(StrEnum):
    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"


@dataclass(frozen=True, slots=True)
class Probe:
    """The demographics a match compares (values hidden from repr)."""

    name: str | None = field(default=None, repr=False)
    birth_date: str | None = None
    sex: str | None = None
    phones: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def of_facts(cls, facts: PersonFacts) -> Probe:
        phone = "".join(facts.phone.split()) if facts.phone else None
        return cls(
            name=facts.name,
            birth_date=facts.birth_date.isoformat() if facts.birth_date else None,
            sex=facts.sex,
            phones=(phone,) if phone else (),
        )

    @classmethod
    def of_patient(cls, body: dict[str, Any]) -> Probe:
        return cls(primary_name(body), body.get("birthDate"), sex_code_of(body), tuple(phones_of(body)))


@dataclass(frozen=True, slots=True)
class Score:
    total: float
    grade: MatchGrade | None  # None: below "possible"
    parts: tuple[tuple[str, float], ...]  # per field agreement 0..1, for the review screen


def grade_of(total: float) -> MatchGrade | None:
    if total >= CERTAIN:
        return MatchGrade.CERTAIN
    if total >= PROBABLE:
        return MatchGrade.PROBABLE
    if total >= POSSIBLE:
        return MatchGrade.POSSIBLE
    return None


def score(probe: Probe, candidate: Probe) -> Score:
    parts = (
        ("name", name_agreement(probe.name, candidate.name)),
        ("birthDate", birth_date_agreement(probe.birth_date, candidate.birth_date)),
        ("gender", sex_agreement(probe.sex, candidate.sex)),
        ("phone", phone_agreement(probe.phones, candidate.phones)),
    )
    total = round(sum(WEIGHTS[name] * value for name, value in parts), 4)
    return Score(total, grade_of(total), parts)


def name_agreement(one: str | None, other: str | None) -> float:
    if not one or not other:
        return 0.0
    if fold_name(one) == fold_name(other):
        return NAME_EXACT
    a, b = readings(one), readings(other)
    if sounds_alike(a, b):
        return NAME_SAME_SOUND
    if sounds_alike(a, b, loose=True):
        return NAME_SIMILAR_SOUND
    return _shared_characters(fold_name(one), fold_name(other))


def _shared_characters(one: str, other: str) -> float:
    # Partial credit for a changed given name or a typo: the share of positions that agree.
    if len(one) != len(other) or len(one) < 2:
        return 0.0
    same = sum(1 for a, b in zip(one, other, strict=True) if a == b)
    return round(0.6 * same / len(one), 4)


def birth_date_agreement(one: str | None, other: str | None) -> float:
    """1 equal; 0.5 for the usual data-entry slips (day and month swapped, one digit wrong)."""
    if not one or not other:
        return 0.0
    if one == other:
        return 1.0
    if len(one) == len(other) == 10:
        swapped = f"{one[:4]}-{one[8:10]}-{one[5:7]}"
        if swapped == other or sum(a != b for a, b in zip(one, other, strict=True)) == 1:
            return 0.5
    return 0.0


def sex_agreement(one: str | None, other: str | None) -> float:
    unknown = {None, "0", "9"}
    if one in unknown or other in unknown:
        return 0.5
    return 1.0 if one == other else 0.0


def phone_agreement(one: Iterable[str], other: Iterable[str]) -> float:
    return 1.0 if set(one) & set(other) else 0.0
