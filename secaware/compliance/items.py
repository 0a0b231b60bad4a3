"""GB/T 22239-2019 items and their clause ids, read from the TSV shipped beside this module.

Clause ids follow the standard: chapter 7 for level 2, chapter 8 for level 3, then `.1` (general
requirements), the domain (2 安全通信网络, 3 安全区域边界, 4 安全计算环境, 5 安全管理中心), the control
point's position within the domain at that level, and the item letter: `8.1.4.1 b` is level 3,
安全计算环境, 身份鉴别, item b). The position is the order of the control points in the file, which
follows the standard (level 3: 8.1.4.1 身份鉴别 ... 8.1.4.11 个人信息保护; level 2: 7.1.4.10 个人信息保护).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TSV = Path(__file__).with_name("gbt22239_items.tsv")
DOMAINS = {"secure_communication": 2, "secure_boundary": 3, "secure_computing": 4, "secure_management": 5}
CHAPTERS = {2: 7, 3: 8}
_LETTER = re.compile(r"^\s*([a-z])\s*[）)]")


@dataclass(frozen=True)
class Item:
    level: int
    clause: str  # "8.1.4.1 b"
    domain: str
    control_point: str
    text: str  # as in the standard, with its leading "b）"


@cache
def items() -> dict[tuple[int, str], Item]:
    """(level, clause) -> item, for every level 2 and level 3 technical item."""
    out: dict[tuple[int, str], Item] = {}
    points: dict[tuple[int, str], list[str]] = {}
    with TSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            level = int(row["level"].removeprefix("L"))
            domain, point, text = row["domain"], row["control_point"], row["item"].strip()
            seen = points.setdefault((level, domain), [])
            if point not in seen:
                seen.append(point)
            letter = _LETTER.match(text)
            if letter is None:
                raise ValueError(f"{TSV}: item without a leading letter: {text[:40]}")
            clause = f"{CHAPTERS[level]}.1.{DOMAINS[domain]}.{seen.index(point) + 1} {letter.group(1)}"
            out[(level, clause)] = Item(level, clause, domain, point, text)
    return out


def item(level: int, clause: str) -> Item:
    """The item of a clause at a level; KeyError names the clause when the standard has no such item."""
    try:
        return items()[(level, clause)]
    except KeyError:
        raise KeyError(f"GB/T 22239-2019 has no level {level} item {clause!r}") from None
