"""Compliance: per system and GB/T 22239-2019 item, what the period's logs say, written to the compliance table.

Logs can refute a control, rarely prove one. So a verdict is 不符合 where the logs show a violation,
部分符合 where they agree with the control and a person must still check the configuration (the
evidence then says 需人工核查 and what), 证据不足 where they say nothing either way, and 不适用 where
the item does not apply. Never 符合, never a score.

Each run replaces the whole table in one atomic Delta commit, so the table always holds one
consistent assessment (its period is in every row) and readers such as the report need no
filtering. Earlier assessments stay readable through Delta time travel (`pl.read_delta(path,
version=N)`) until the store is vacuumed; keeping them as rows instead would make every reader pick
the latest run, and a nightly run over a growing period would stack near-duplicates.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from secaware import privacy as pii
from secaware.compliance.checks import all_checks
from secaware.compliance.context import INSUFFICIENT, MANUAL, NONCOMPLIANT, PARTIAL, VERDICTS, Context, Finding
from secaware.compliance.items import item
from secaware.errors import SecawareError
from secaware.inventory import Inventory, load_inventory
from secaware.schema import COMPLIANCE, EVENTS, schema
from secaware.store import Store

DEFAULT_TZ = "Asia/Shanghai"


@dataclass
class ComplianceReport:
    store: str
    period_start: str = ""
    period_end: str = ""
    systems: int = 0
    rows: int = 0
    by_verdict: dict[str, int] = field(default_factory=dict)
    by_clause: dict[str, dict[str, int]] = field(default_factory=dict)
    high_risk: int = 0
    noncompliant: list[dict[str, Any]] = field(default_factory=list)
    #: inventory entries left out because they cannot be used (no id, unknown prefecture, bad level...)
    inventory_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def compliance(store: str | Path | Store, *, inventory: str | Path | Inventory | None = None,
               period: tuple[dt.datetime | None, dt.datetime | None] | None = None,
               tz: str = DEFAULT_TZ) -> ComplianceReport:
    """Judge every system of the inventory on every checkable item for the period; write the compliance table.

    period is (start, end) in aware datetimes, end exclusive; either side None (or no period) extends to the
    whole days (in tz) of the first or last event in the store.
    """
    started = time.monotonic()
    store = store if isinstance(store, Store) else Store(store)
    inv = inventory if isinstance(inventory, Inventory) else load_inventory(inventory)
    if not store.exists(EVENTS):
        raise SecawareError(f"{store.root}: the store has no events yet; run `secaware ingest` first")
    start, end = _resolve_period(store, period, tz)
    ctx = Context(store, inv, start, end)
    now = dt.datetime.now(dt.UTC)
    rows = []
    # the checks' scans are filters and group-bys over the events: the streaming engine keeps memory bounded
    with pl.Config(engine_affinity="streaming"):
        for check in all_checks():
            found: dict[tuple[str, str], Finding] = {}
            for f in check.run(ctx):
                found[(f.system, f.clause)] = f
            for system in ctx.systems:
                for clause in check.CLAUSES.get(system.level, ()):
                    f = found.get((system.id, clause)) or Finding(
                        system.id, clause, INSUFFICIENT, "期间内没有与该项有关的日志")
                    rows.append(_row(check, system, f, start, end, now))
    rows.sort(key=lambda r: (r["prefecture"], r["system"], _clause_key(r["clause"])))
    table = pl.DataFrame(rows, schema=schema(COMPLIANCE))
    _write(store, table)
    report = _report(store, table, start, end, started)
    report.inventory_problems = [str(p) for p in inv.problems]
    return report


def _row(check: Any, system: Any, f: Finding, start: dt.datetime, end: dt.datetime,
         now: dt.datetime) -> dict[str, Any]:
    if f.verdict not in VERDICTS:
        raise ValueError(f"check {check.ID}: verdict {f.verdict!r} is not one of {VERDICTS}")
    evidence = f.evidence
    if f.verdict == PARTIAL and MANUAL not in evidence:
        evidence = f"{evidence}；{MANUAL}：{f.to_verify or '相关配置'}" if evidence else f"{MANUAL}：{f.to_verify}"
    text = item(system.level, f.clause).text if f.clause[:1].isdigit() else check.LAW_ITEMS[f.clause]
    return {
        "system": system.id, "system_name": system.name, "prefecture": system.prefecture, "level": system.level,
        "clause": f.clause, "item": text, "check": check.ID, "verdict": f.verdict,
        "high_risk": bool(f.high_risk and f.verdict == NONCOMPLIANT),
        # personal information never reaches the table in clear, whatever a check quoted
        "reason": pii.mask_text(f.reason), "evidence": pii.mask_text(evidence),
        "examples": list(f.examples), "to_verify": pii.mask_text(f.to_verify) or None,
        "period_start": start, "period_end": end, "checked_at": now,
    }


def _clause_key(clause: str) -> list[int]:
    """8.1.4.4 c < 8.1.4.11 b; law articles last."""
    nums = re.findall(r"\d+", clause)
    letter = clause.rsplit(" ", 1)[-1]
    if not clause[:1].isdigit():
        return [99, *[int(n) for n in nums]]
    return [*[int(n) for n in nums], ord(letter[0]) if letter.isalpha() else 0]


def _resolve_period(store: Store, period: tuple[dt.datetime | None, dt.datetime | None] | None,
                    tz: str = DEFAULT_TZ) -> tuple[dt.datetime, dt.datetime]:
    start, end = period or (None, None)
    if start is None or end is None:
        span = store.scan(EVENTS).select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")).collect()
        lo, hi = span.row(0)
        if lo is None:
            raise SecawareError(f"{store.root}: the store has no events with a time")
        zone = ZoneInfo(tz)
        start = start or dt.datetime.combine(lo.astimezone(zone).date(), dt.time(), zone)
        end = end or dt.datetime.combine(hi.astimezone(zone).date() + dt.timedelta(days=1), dt.time(), zone)
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    if end <= start:
        raise SecawareError(f"the period ends ({end}) before it starts ({start})")
    return start, end


def _write(store: Store, table: pl.DataFrame) -> None:
    """One assessment in the table; the previous ones stay in the Delta log's earlier versions."""
    store.replace(COMPLIANCE, table)


def _report(store: Store, table: pl.DataFrame, start: dt.datetime, end: dt.datetime,
            started: float) -> ComplianceReport:
    report = ComplianceReport(str(store.root), start.isoformat(), end.isoformat())
    report.systems = table["system"].n_unique()
    report.rows = table.height
    report.by_verdict = {v: n for v in VERDICTS if (n := int((table["verdict"] == v).sum()))}
    counts = Counter(table.select("clause", "verdict").iter_rows())
    for clause in sorted({c for c, _ in counts}, key=_clause_key):
        report.by_clause[clause] = {v: counts[(clause, v)] for v in VERDICTS if counts[(clause, v)]}
    report.high_risk = int(table["high_risk"].sum())
    report.noncompliant = (table.filter(pl.col("verdict") == NONCOMPLIANT)
                           .select("system", "prefecture", "clause", "check", "high_risk", "reason").to_dicts())
    report.seconds = time.monotonic() - started
    return report


def parse_period(text: str, tz: str = DEFAULT_TZ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """'2026-11-01..2026-11-30' (dates are whole days in tz, both included), ISO times (end excluded), or an open
    side ('2026-11-01..', '..2026-11-30')."""
    if ".." not in text:
        raise ValueError(f"{text!r} is not a period like 2026-11-01..2026-11-30")
    left, right = (s.strip() for s in text.split("..", 1))
    return _bound(left, tz, end=False), _bound(right, tz, end=True)


def _bound(value: str, tz: str, *, end: bool) -> dt.datetime | None:
    if not value:
        return None
    zone = ZoneInfo(tz)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = dt.date.fromisoformat(value) + dt.timedelta(days=1 if end else 0)
        return dt.datetime.combine(day, dt.time(), zone)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date or time like 2026-11-23 or 2026-11-23T08:00") from exc
    return when if when.tzinfo else when.replace(tzinfo=zone)

