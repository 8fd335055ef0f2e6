"""Administrative divisions (行政区划) by their GB/T 2260 codes: a pure lookup over `data/gbt2260.csv`.

A code has six digits: two for the province, two for the city (prefecture), two for the county
(district, county-level city, banner). `330402` is 浙江省 · 嘉兴市 · 南湖区; `330400` the city of
Jiaxing itself; `330000` the province. The data file lists every province and, for the five
jurisdictions' provinces (Beijing, Inner Mongolia, Shanghai, Zhejiang, Shandong), their cities and
county-level divisions (the Ministry of Civil Affairs' codes; the statistical codes of development
zones, `xx7x`, are not GB/T 2260 divisions and are left out). A location is chosen from this list,
never typed: a code outside it is refused.

Municipalities (Beijing, Shanghai) carry the city level `xx0100` (市辖区) between the province and
the district; it is shown as the municipality itself.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

DATA = Path(__file__).parent / "data" / "gbt2260.csv"
CODE = re.compile(r"^[1-8][0-9]{5}$")
Level = Literal["province", "city", "county"]
# Municipalities directly under the central government (直辖市): their city level (市辖区, 县) is no city
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})


@dataclass(frozen=True)
class Division:
    code: str
    name_zh: str
    name_en: str  # "" where the data file gives none: the Chinese name is shown

    @property
    def level(self) -> Level:
        return level_of(self.code)

    @property
    def municipal_city(self) -> bool:
        """The city level of a municipality (市辖区): shown as the municipality itself."""
        return self.level == "city" and self.code[:2] in MUNICIPALITIES


def level_of(code: str) -> Level:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


@cache
def divisions() -> dict[str, Division]:
    """Every division of the data file, by code (read once)."""
    with DATA.open(encoding="utf-8", newline="") as f:
        return {row["code"]: Division(row["code"], row["name_zh"], row["name_en"]) for row in csv.DictReader(f)}


def get(code: str) -> Division | None:
    return divisions().get(code)


def chain(code: str) -> tuple[Division, ...]:
    """The division and those above it, province first: `330402` → (浙江省, 嘉兴市, 南湖区)."""
    found = get(code)
    if found is None:
        return ()
    parents = [code[:2] + "0000", code[:4] + "00", code]
    out: list[Division] = []
    for parent in dict.fromkeys(parents[: ("province", "city", "county").index(found.level) + 1]):
        d = get(parent)
        if d is not None:
            out.append(d)
    return tuple(out)


def within(code: str, area: str) -> bool:
    """Whether division `code` lies inside division `area` (or is it): by the code's own hierarchy."""
    level = level_of(area)
    if level == "province":
        return code[:2] == area[:2]
    if level == "city":
        return code[:4] == area[:4]
    return code == area


def within_any(code: str, areas: tuple[str, ...]) -> bool:
    return not areas or any(within(code, a) for a in areas)


def children(code: str | None) -> list[Division]:
    """The divisions directly below `code` (None: the provinces), in code order."""
    everything = divisions().values()
    if code is None:
        return [d for d in everything if d.level == "province"]
    level = level_of(code)
    if level == "province":
        return [d for d in everything if d.level == "city" and d.code[:2] == code[:2]]
    if level == "city":
        return [d for d in everything if d.level == "county" and d.code[:4] == code[:4]]
    return []


def names(code: str) -> tuple[str, str]:
    """The location in words, province to county, in Chinese and in English (a municipality's 市辖区 left
    out; a name the data gives no English for is said in Chinese): ("浙江省嘉兴市南湖区", "Nanhu, Jiaxing,
    Zhejiang")."""
    parts = [d for d in chain(code) if not d.municipal_city]
    zh = "".join(d.name_zh for d in parts)
    en = ", ".join(d.name_en or d.name_zh for d in reversed(parts))
    return zh, en


def _anchored(d: Division, named: set[str]) -> bool:
    """A division a text names for certain: it also names one of its parents, or no other has its name."""
    parents = [c.code for c in chain(d.code)[:-1] if not c.municipal_city]
    if any(p in named for p in parents):
        return True
    return sum(x.name_zh == d.name_zh for x in divisions().values()) == 1


def resolve_text(text: str) -> str | None:
    """The deepest division a free-text address names, or None: for moving old free-text locations to
    codes. Names are matched as written (full names: 上海市, 嘉定区), the longest first, and a county is
    taken only under a province or city the text also names, or when its name is unique."""
    text = (text or "").strip()
    found = [d for d in divisions().values() if text and not d.municipal_city and d.name_zh in text]
    named = {d.code for d in found}
    deepest_first = sorted(found, key=lambda d: ("province", "city", "county").index(d.level), reverse=True)
    best = next((d for d in deepest_first if _anchored(d, named)), None)
    if best is None:
        best = next((d for d in found if d.level == "province"), None)
    return best.code if best else None
