"""The compliance checks, one module per kind of control: adding a control is adding one file here.

Each module defines
    ID       short id written in the table's `check` column,
    TITLE    what it checks, in Chinese,
    CLAUSES  {level: (clause, ...)}: the GB/T 22239-2019 items (or law articles) it judges at each level,
    run(ctx) -> iterable of Finding, one per system and clause it can say something about.
Items a check says nothing about for a system are written as 证据不足 by the stage.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType


@cache
def all_checks() -> tuple[ModuleType, ...]:
    """Every check module in this package, in name order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in names)
