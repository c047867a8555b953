"""GB/T 2260 administrative division codes, current and historic, and the rule for ID number address codes.

An ID number keeps the address code it was issued with, even after that division was abolished or
renumbered (440524 潮阳县, 372301 滨州市 of the old 滨州地区). So:

1. a code in the table (current or historic) is known exactly;
2. otherwise a code whose prefecture (first 4 digits + "00") is in the table is accepted under that
   prefecture's name: the shipped history cannot list every short-lived county code;
3. anything else (unknown province, unknown prefecture) is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from mappings.codes._data import read_csv
from mappings.codes.code_table import CodeTable

RegionLevel = Literal["province", "prefecture", "county"]

# Grouping rows of the standard that are not places; left out of a full name.
_PLACEHOLDER_NAMES = frozenset(
    {
        "市辖区",
        "县",
        "市",
        "省直辖县级行政区划",
        "自治区直辖县级行政区划",
        "省直辖行政单位",
        "省直辖县级行政单位",
    }
)


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    full_name: str  # province + prefecture + own name, e.g. 山东省滨州市滨城区
    level: RegionLevel
    historic: bool  # no longer in the current list; kept because old ID numbers carry it


def region_level(code: str) -> RegionLevel:
    if code.endswith("0000"):
        return "province"
    return "prefecture" if code.endswith("00") else "county"


@cache
def regions() -> CodeTable[Region]:
    """Every shipped code (see codes/README.md for the sources and what 'historic' covers)."""
    rows = read_csv("gbt2260_regions.csv")
    names = {row["code"]: row["name"] for row in rows}
    return CodeTable.of(
        "GB/T 2260",
        (
            (
                row["code"],
                Region(
                    code=row["code"],
                    name=row["name"],
                    full_name=_full_name(row["code"], names),
                    level=region_level(row["code"]),
                    historic=row["status"] == "historic",
                ),
            )
            for row in rows
        ),
    )


def lookup_region(code: str) -> Region | None:
    """The division with exactly this code, current or historic."""
    return regions().get(code)


def resolve_address_code(code: str) -> Region | None:
    """The division an ID number's address code stands for, by the rule in this module's docstring."""
    exact = regions().get(code)
    if exact is not None:
        return exact
    if len(code) != 6 or not code.isascii() or not code.isdigit() or code[2:4] == "00":
        return None
    return regions().get(code[:4] + "00")


def province_of(code: str) -> Region | None:
    """The province-level division of a code (its first 2 digits)."""
    return regions().get(code[:2] + "0000")


def _full_name(code: str, names: dict[str, str]) -> str:
    province, prefecture = code[:2] + "0000", code[:4] + "00"
    parts = []
    if code != province and province in names:
        parts.append(names[province])
    prefecture_name = names.get(prefecture)
    if code not in (province, prefecture) and prefecture_name and prefecture_name not in _PLACEHOLDER_NAMES:
        parts.append(prefecture_name)
    parts.append(names[code])
    return "".join(parts)
