"""Demographic matching: blocking on blind-indexed keys, pinyin-aware scoring, grades."""

from __future__ import annotations

from datetime import date

import pytest

from adapter.mpi import MatchGrade, PatientIndex, Probe, score
from adapter.mpi.phonetics import pinyin_keys, readings, sound_class, sounds_alike
from adapter.mpi.scoring import birth_date_agreement, name_agreement
from adapter.storage import MemoryStorage
from tests.unit.mpi.people import demographics, person


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        ("陈大文", "陈大文", 1.0),
        ("陳大文", "陈大文", 1.0),  # traditional vs simplified: the same name
        ("张伟", "章伟", 0.9),  # same sound, different character
        ("单丽", "善丽", 0.9),  # 单 read shan
        ("单丽", "丹丽", 0.9),  # 单 read dan
        ("曾伟", "增伟", 0.9),  # 曾 read zeng
        ("曾伟", "层伟", 0.9),  # 曾 read ceng
        ("张伟", "Zhang Wei", 0.9),  # pinyin typed at a desk
        ("吕布", "Lü Bu", 0.9),  # ü as pypinyin spells it (v)
        ("张伟", "赞伟", 0.75),  # zh/z: only under regional folding
        ("刘宁", "牛林", 0.75),  # l/n and -ing/-in
        ("张伟", "张丽", 0.3),  # one of two characters agrees
        ("张伟", "王芳", 0.0),
    ],
)
def test_name_agreement(one: str, other: str, expected: float) -> None:
    assert name_agreement(one, other) == expected


def test_readings_cover_every_heteronym() -> None:
    assert readings("单") == (frozenset({"dan", "shan", "chan"}),)
    assert readings("曾") == (frozenset({"zeng", "ceng"}),)
    assert readings("陳") == readings("陈")
    assert set(pinyin_keys("单丽")) == {"danli", "shanli", "chanli"}
    assert pinyin_keys("Li Lei") == ["lilei"]
    assert pinyin_keys("") == []
    assert sound_class("zhang") == "zan" and sound_class("ning") == "lin"
    assert not sounds_alike(readings("张伟"), readings("张伟伟"))


def test_birth_date_agreement_forgives_the_usual_slips() -> None:
    assert birth_date_agreement("1990-03-04", "1990-03-04") == 1.0
    assert birth_date_agreement("1990-03-04", "1990-04-03") == 0.5  # day and month swapped
    assert birth_date_agreement("1990-03-04", "1990-03-05") == 0.5  # one digit
    assert birth_date_agreement("1990-03-04", "1991-04-05") == 0.0
    assert birth_date_agreement(None, "1990-03-04") == 0.0


def test_grades() -> None:
    base = Probe("张伟", "1990-01-01", "1", ("13800000001",))
    assert score(base, base).grade is MatchGrade.CERTAIN
    no_phone = Probe("张伟", "1990-01-01", "1")
    assert score(no_phone, no_phone).grade is MatchGrade.PROBABLE  # name + birthday alone: not certain
    assert score(Probe("章伟", "1990-01-01", "1"), no_phone).grade is MatchGrade.PROBABLE
    assert score(Probe("张伟", None, "1", ("13800000001",)), base).grade is MatchGrade.POSSIBLE
    assert score(Probe("王芳", "1990-01-01", "2"), no_phone).grade is None
    assert "张伟" not in repr(base)


async def _load(storage: MemoryStorage, index: PatientIndex) -> dict[str, str]:
    ids = {}
    people = [
        (1, "张伟", date(1990, 1, 1), True),
        (2, "单丽", date(1985, 6, 1), False),
        (3, "曾伟", date(1975, 3, 3), True),
        (4, "陳大文", date(1960, 12, 1), True),
        (5, "王芳", date(1990, 1, 1), False),
        (6, "张伟", date(1990, 1, 1), True),  # a namesake born the same day
    ]
    async with storage.unit_of_work() as uow:
        for serial, name, born, male in people:
            found = await index.resolve(uow, person(serial, name=name, born=born, male=male), actor="a")
            ids[f"{serial}"] = found.patient_id
    return ids


async def test_match_finds_same_sounding_polyphone_and_traditional_names(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    ids = await _load(storage, index)
    cases = [
        (demographics("章伟", born=date(1990, 1, 1)), {ids["1"], ids["6"]}, MatchGrade.PROBABLE),
        (demographics("善丽", born=date(1985, 6, 1), sex="2"), {ids["2"]}, MatchGrade.PROBABLE),
        (demographics("丹丽", born=date(1985, 6, 1), sex="2"), {ids["2"]}, MatchGrade.PROBABLE),
        (demographics("增伟", born=date(1975, 3, 3)), {ids["3"]}, MatchGrade.PROBABLE),
        (demographics("层伟", born=date(1975, 3, 3)), {ids["3"]}, MatchGrade.PROBABLE),
        (demographics("陈大文", born=date(1960, 12, 1)), {ids["4"]}, MatchGrade.PROBABLE),
        (demographics("Chen Dawen", born=date(1960, 12, 1)), {ids["4"]}, MatchGrade.PROBABLE),
    ]
    async with storage.unit_of_work() as uow:
        for facts, expected, grade in cases:
            got = await index.match(uow, facts, limit=5)
            assert {c.patient_id for c in got} == expected
            assert all(c.grade is grade and 0 < c.score < 1 for c in got)


async def test_match_without_birth_date_blocks_on_pinyin(storage: MemoryStorage, index: PatientIndex) -> None:
    ids = await _load(storage, index)
    async with storage.unit_of_work() as uow:
        got = await index.match(uow, demographics("曾伟", born=None), limit=5)
    assert [(c.patient_id, c.grade) for c in got] == [(ids["3"], MatchGrade.POSSIBLE)]


async def test_an_identifier_hit_is_certain_and_comes_first(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    ids = await _load(storage, index)
    async with storage.unit_of_work() as uow:
        got = await index.match(uow, person(1), limit=5, actor="client-a")
        audits = await uow.audit.search(agent="client-a")
    assert got[0].patient_id == ids["1"] and got[0].grade is MatchGrade.CERTAIN and got[0].score == 1.0
    assert got[1].patient_id == ids["6"] and got[1].grade is MatchGrade.PROBABLE
    assert [a.operation for a in audits] == ["match Patient"]


async def test_match_respects_the_limit_and_skips_inactive(
    storage: MemoryStorage, index: PatientIndex
) -> None:
    ids = await _load(storage, index)
    async with storage.unit_of_work() as uow:
        assert len(await index.match(uow, demographics("张伟"), limit=1)) == 1
        await index.merge(uow, ids["6"], ids["1"], actor="admin", reason="duplicate")
        got = await index.match(uow, demographics("张伟"), limit=5)
    assert [c.patient_id for c in got] == [ids["1"]]
