"""Chinese personal names: surname/given split and traditional -> simplified folding (pure, data-driven)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Final

# Two-character (复姓) surnames. A name starting with one of these splits after two characters;
# every other Chinese name splits after the first. Order does not matter (all are two characters).
COMPOUND_SURNAMES: Final = frozenset(
    {
        "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
        "司空", "夏侯", "轩辕", "令狐", "钟离", "闾丘", "端木", "独孤", "南宫", "西门", "百里", "呼延",
        "万俟", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠", "赫连", "拓跋", "第五",
        "东郭", "左丘", "梁丘", "公羊", "谷梁", "乐正", "微生", "羊舌", "太史", "仲孙", "亓官", "司寇",
        "巫马", "公西", "漆雕", "壤驷", "公良", "段干", "东门",
    }
)  # fmt: skip

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ffff]")
_MIDDLE_DOTS = frozenset("·•・")
_SEPARATORS = re.compile(r"[\s·•・.]+")  # spaces and the middle dot of transliterated names


@dataclass(frozen=True, slots=True)
class NameParts:
    """A name as FHIR HumanName wants it. The repr hides the name (it may reach a log)."""

    text: str = field(repr=False)
    family: str | None = field(repr=False)
    given: tuple[str, ...] = field(repr=False)


@cache
def traditional_to_simplified() -> MappingProxyType[str, str]:
    """The shipped table (OpenCC TSCharacters, single characters only), loaded once."""
    table: dict[str, str] = {}
    text = files(__package__).joinpath("ts_characters.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            traditional, simplified = line.split("\t")
            table[traditional] = simplified
    return MappingProxyType(table)


def clean_name(name: str) -> str:
    """NFKC (full-width letters folded), outer spaces trimmed, inner runs of spaces made one."""
    return " ".join(unicodedata.normalize("NFKC", name).split())


@lru_cache(maxsize=1 << 16)  # names repeat (a bulk import folds each ~5 times; surnames recur)
def fold_name(name: str) -> str:
    """The comparison form: cleaned, traditional characters made simplified, Latin lower-case,
    separators between transliterated parts removed (so 陳大文 == 陈大文, "Li Lei" == "lilei",
    "Lü Bu" == "lvbu" as pypinyin spells it)."""
    table = traditional_to_simplified()
    folded = "".join(table.get(ch, ch) for ch in clean_name(name))
    return _SEPARATORS.sub("", folded).lower().replace("ü", "v")  # pinyin's ü is typed v (lv, nv)


def is_chinese_name(name: str) -> bool:
    """All characters (ignoring separators) are Han characters."""
    compact = _SEPARATORS.sub("", clean_name(name))
    return bool(compact) and all(_HAN.fullmatch(ch) for ch in compact)


def surname_length(name: str) -> int:
    """1, or 2 for a compound surname (checked on the simplified form, so 歐陽 counts too)."""
    return 2 if fold_name(name)[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1


def split_name(name: str) -> NameParts:
    """Chinese names split into surname and given name; others keep only the text (their order is
    not guessable reliably, and FHIR allows text alone)."""
    text = clean_name(name)
    if not is_chinese_name(text) or _MIDDLE_DOTS & set(text):
        # Transliterated names (阿卜杜·热合曼) put the given name first: no surname to cut off.
        return NameParts(text, None, ())
    compact = _SEPARATORS.sub("", text)
    if len(compact) < 2:
        return NameParts(text, compact, ())
    cut = surname_length(compact)
    return NameParts(text, compact[:cut], (compact[cut:],))
