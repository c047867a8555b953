"""How a name sounds: toneless pinyin readings per character (every heteronym, so polyphonic
surnames like 单 shan/dan or 曾 zeng/ceng match either reading), and a looser "sound class" that
folds the confusions of regional speech (zh/z, ch/c, sh/s, n/l, -ng/-n)."""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Final

from pypinyin import Style, pinyin

from mappings.person import fold_name, is_chinese_name

Readings = tuple[frozenset[str], ...]  # one set of readings per character

MAX_KEYS: Final = 6  # reading combinations indexed per name: polyphones multiply, keep tokens few
_INITIAL_FOLDS: Final = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FINAL_FOLDS: Final = (("ing", "in"), ("eng", "en"), ("ang", "an"))


@lru_cache(maxsize=32_768)
def char_readings(char: str) -> frozenset[str]:
    """Toneless readings of one Han character, most common first in pypinyin's order."""
    found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    readings = frozenset(r for r in (found[0] if found else []) if r)
    return readings or frozenset({char})


def readings(name: str) -> Readings:
    """Per character readings of a Chinese name (simplified/traditional folded first); a Latin
    name (pinyin typed by hand) is one "character" whose only reading is itself."""
    folded = fold_name(name)
    if not folded:
        return ()
    if not is_chinese_name(folded):
        return (frozenset({folded}),)
    return tuple(char_readings(ch) for ch in folded)


def sound_class(syllable: str) -> str:
    for long, short in _INITIAL_FOLDS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    for long, short in _FINAL_FOLDS:
        if syllable.endswith(long):
            return syllable[: -len(long)] + short
    return syllable


def _ordered(options: frozenset[str]) -> list[str]:
    return sorted(options)  # deterministic: the same name always yields the same keys


def pinyin_keys(name: str, *, limit: int = MAX_KEYS) -> list[str]:
    """Whole-name pinyin strings ("zhangwei") for indexing and blocking, at most ``limit``.
    A Latin name is its own key, so "Zhang Wei" typed at a desk finds 张伟."""
    per_char = readings(name)
    if not per_char:
        return []
    if len(per_char) == 1 and not is_chinese_name(fold_name(name)):
        return [next(iter(per_char[0]))]
    combos = itertools.islice(itertools.product(*(_ordered(r) for r in per_char)), limit)
    return ["".join(combo) for combo in combos]


def sounds_alike(one: Readings, other: Readings, *, loose: bool = False) -> bool:
    """Same length and every position shares a reading (or a sound class when loose)."""
    if not one or not other:
        return False
    if len(one) == 1 or len(other) == 1:  # a Latin spelling against characters: compare strings
        left, right = _spellings(one), _spellings(other)
        if loose:
            return bool({_loose_word(w) for w in left} & {_loose_word(w) for w in right})
        return bool(left & right)
    if len(one) != len(other):
        return False
    for a, b in zip(one, other, strict=True):
        if loose:
            a, b = frozenset(map(sound_class, a)), frozenset(map(sound_class, b))
        if not a & b:
            return False
    return True


def _spellings(parts: Readings) -> set[str]:
    combos = itertools.islice(itertools.product(*(_ordered(r) for r in parts)), 64)
    return {"".join(c) for c in combos}


def _loose_word(word: str) -> str:
    # Whole-word folding for Latin spellings, where syllable borders are unknown.
    for long, short in (*_INITIAL_FOLDS, *_FINAL_FOLDS):
        word = word.replace(long, short)
    return word
