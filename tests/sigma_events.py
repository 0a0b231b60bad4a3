"""Web events that trigger Sigma rules, and the same events in SQLite for pySigma's SQLite backend.

Used by the engine tests and by benchmarks/bench_detect.py:

- `trigger_lines(rules)`: nginx `combined` access-log lines built from each rule's own detection
  values (a `cs-uri-query|contains` value goes into the query string, a keyword anywhere in the
  line, `sc-status: 404` into the status...), one line per alternative of the rule's condition,
  as nginx would write them (`"`, `\\`, control and non-ASCII bytes as `\\xHH`), plus the same
  request percent-encoded as a browser or an attacker would send it.
- `sqlite_events(events)`: the events in an in-memory SQLite table whose columns carry the Sigma
  taxonomy names (`cs-uri-query`, `c-ip`... from `field_mapping()`, and the events' own column
  names), declared `TEXT COLLATE NOCASE` for text as Zircolite declares them, `INTEGER` for numbers,
  with Zircolite's REGEXP function. Rules then convert with no processing pipeline at all.
- `sqlite_hits(connection, rule)`: the row indexes the rule's SQLite query selects.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import polars as pl
from sigma.backends.sqlite import sqliteBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaNull, SigmaNumber, SigmaString, SpecialChars

from secaware.detect.backend import KEYWORD_COLUMN
from secaware.detect.engine import ROW, matchable
from secaware.detect.rules import field_mapping
from secaware.schema import EVENT_COLUMNS

#: Where each Sigma webserver field goes in a combined line.
SLOTS = {"cs-uri-query": "query", "cs-uri-stem": "path", "cs-method": "method", "sc-status": "status",
         "cs-user-agent": "agent", "cs-referer": "referer", "cs-username": "user", "c-useragent": "agent"}
DEFAULTS = {"method": "GET", "path": "/index.php", "query": "", "status": "200", "agent":
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
            "Safari/537.36", "referer": "-", "user": "-"}
#: Alternatives taken of one rule's condition at most (a rule with 40 `contains` values gives 40).
MAX_PER_RULE = 60


def _walk(cond: Any) -> Iterator[Any]:
    yield cond
    for arg in getattr(cond, "args", None) or ():
        yield from _walk(arg)


def _alternatives(cond: Any) -> list[list[tuple[str | None, Any]]]:
    """Ways to satisfy a condition, each a list of (field or None for a keyword, value) it needs."""
    if isinstance(cond, ConditionOR):
        return [alt for arg in cond.args for alt in _alternatives(arg)][:MAX_PER_RULE]
    if isinstance(cond, ConditionAND):
        children = [_alternatives(arg) for arg in cond.args]
        width = max(len(c) for c in children)
        return [[need for c in children for need in c[i % len(c)]] for i in range(width)]
    if isinstance(cond, ConditionNOT):
        return [_avoid(cond.args[0])]
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return [[(cond.field, cond.value)]]
    if isinstance(cond, ConditionValueExpression):
        return [[(None, cond.value)]]
    return [[]]


def _avoid(cond: Any) -> list[tuple[str | None, Any]]:
    """Needs that keep a (filter) condition false, where simple: a field a filter wants null gets a value.

    Values a filter looks for are left alone: the defaults rarely contain them.
    """
    if isinstance(cond, ConditionOR):  # not (a or b) = not a and not b
        return [need for arg in cond.args for need in _avoid(arg)]
    if isinstance(cond, ConditionAND):  # not (a and b): keeping one false is enough
        return next((needs for needs in map(_avoid, cond.args) if needs), [])
    if isinstance(cond, ConditionFieldEqualsValueExpression) and isinstance(cond.value, SigmaNull):
        return [(cond.field, PRESENT)]
    return []


#: Stands for "any value but null" in a list of needs.
PRESENT = object()
FILLERS = {"query": "id=1", "referer": "https://www.lanzhou.gov.cn/", "agent": DEFAULTS["agent"], "user": "admin",
           "path": "/index.php", "method": "GET", "status": "200"}


def _plain(value: SigmaString) -> tuple[str, bool, bool]:
    """(text, open at start, open at end) of a Sigma string; inner wildcards become a letter or nothing."""
    parts = list(value.s)
    lead = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
    trail = len(parts) > 1 and parts[-1] == SpecialChars.WILDCARD_MULTI
    text = "".join(p if isinstance(p, str) else ("x" if p == SpecialChars.WILDCARD_SINGLE else "")
                   for p in parts[int(lead): len(parts) - int(trail)])
    return text, lead, trail


def request_fields(needs: Iterable[tuple[str | None, Any]]) -> dict[str, str]:
    """A request's fields (DEFAULTS overridden) meeting the needs it can meet."""
    exact: dict[str, str] = {}
    starts: dict[str, list[str]] = {}
    middles: dict[str, list[str]] = {}
    ends: dict[str, list[str]] = {}
    keywords: list[str] = []
    present: set[str] = set()
    for field, value in needs:
        slot = "keyword" if field is None else SLOTS.get(field)
        if slot is None:
            continue
        if isinstance(value, SigmaNull):
            exact[slot] = "-"
            continue
        if value is PRESENT:
            present.add(slot)
            continue
        if isinstance(value, SigmaNumber):
            text, lead, trail = str(value.number), slot == "keyword", slot == "keyword"
        elif isinstance(value, SigmaString):
            text, lead, trail = _plain(value)
        else:
            continue  # a regex or other value: left to chance
        if slot == "keyword":
            keywords.append(text)
        elif lead and trail:
            middles.setdefault(slot, []).append(text)
        elif trail:
            starts.setdefault(slot, []).append(text)
        elif lead:
            ends.setdefault(slot, []).append(text)
        else:
            exact[slot] = text
    out = dict(DEFAULTS)
    for slot in set(starts) | set(middles) | set(ends):
        out[slot] = "".join(starts.get(slot, [])) + "".join(middles.get(slot, [])) + "".join(ends.get(slot, []))
        if slot == "path" and not out[slot].startswith("/"):
            out[slot] = "/" + out[slot]
    out.update(exact)
    for slot in present:
        if out[slot] in ("", "-"):
            out[slot] = FILLERS[slot]
    if keywords:
        out["query"] = (out["query"] + "&" if out["query"] else "") + "&".join(keywords)
    if not re.fullmatch(r"[A-Za-z][A-Za-z_-]{0,19}", out["method"]):
        out["method"] = DEFAULTS["method"]
    if not re.fullmatch(r"\d{3}", out["status"]):
        out["status"] = DEFAULTS["status"]
    return out


def nginx_escape(text: str) -> str:
    """nginx's access-log escaping: `"`, `\\`, bytes below 32 and above 126 as \\xHH."""
    out = []
    for byte in text.encode("utf-8"):
        out.append(f"\\x{byte:02X}" if byte in (0x22, 0x5C) or byte < 32 or byte > 126 else chr(byte))
    return "".join(out)


def combined_line(fields: dict[str, str], *, ip: str, when: dt.datetime, size: int) -> str:
    target = fields["path"] + ("?" + fields["query"] if fields["query"] else "")
    request = f"{fields['method']} {target} HTTP/1.1"
    return (f"{ip} - {nginx_escape(fields['user']) or '-'} [{when.strftime('%d/%b/%Y:%H:%M:%S %z')}] "
            f"\"{nginx_escape(request)}\" {fields['status']} {size} \"{nginx_escape(fields['referer'])}\" "
            f"\"{nginx_escape(fields['agent'])}\"")


def trigger_requests(rule: SigmaRule) -> list[dict[str, str]]:
    """Requests built from a rule's detection values, one per alternative of its condition (none for a correlation)."""
    if not isinstance(rule, SigmaRule):
        return []
    alternatives = [alt for c in rule.detection.parsed_condition for alt in _alternatives(c.parsed)]
    return [request_fields(alt) for alt in alternatives[:MAX_PER_RULE]]


def trigger_lines(rules: Iterable[SigmaRule], *, seed: int = 1, start: dt.datetime | None = None) -> list[str]:
    """Combined lines meant to trigger each rule: as built, and with path and query percent-encoded."""
    rng = random.Random(seed)
    when = start or dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    lines = []
    for rule in rules:
        for fields in trigger_requests(rule):
            variants = [fields]
            encoded = dict(fields, path=quote(fields["path"], safe="/"), query=quote(fields["query"], safe="=&"))
            if encoded != fields:
                variants.append(encoded)
            for f in variants:
                ip = f"{rng.choice((45, 61, 103, 185, 193))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                when += dt.timedelta(seconds=rng.randint(0, 3))
                lines.append(combined_line(f, ip=ip, when=when, size=rng.randint(100, 20000)))
    return lines


# --------------------------------------------------------------------------------------------
# pySigma's SQLite backend on the same events
# --------------------------------------------------------------------------------------------


def sigma_names() -> dict[str, str]:
    """Every name a rule may use for an events column (the column's own name and its Sigma names).

    SQLite column names ignore case; names that differ only in case (`User`, `user`) name the same
    events column, and the first is kept.
    """
    names: dict[str, str] = {}
    seen: set[str] = set()
    for name, column in ({c.name: c.name for c in EVENT_COLUMNS} | field_mapping()).items():
        if name.lower() not in seen:
            seen.add(name.lower())
            names[name] = column
    return names


def _regexp(pattern: str, value: Any) -> int:
    """Zircolite's REGEXP: Python's re.search, false for a missing value."""
    if value is None:
        return 0
    return int(_compiled(pattern).search(str(value)) is not None)


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def sqlite_events(events: pl.DataFrame, *, names: dict[str, str] | None = None) -> sqlite3.Connection:
    """The events (as logged) in table `logs`, one column per Sigma name, rowid = the engine's row index."""
    names = names or sigma_names()
    frame = matchable(events)
    kinds = {}
    for name, column in names.items():
        dtype = frame.schema[column]
        kinds[name] = "INTEGER" if dtype.is_integer() or dtype == pl.Boolean else "TEXT COLLATE NOCASE"
    connection = sqlite3.connect(":memory:")
    connection.create_function("regexp", 2, _regexp, deterministic=True)
    declared = ", ".join(f'"{name}" {kind}' for name, kind in kinds.items())
    connection.execute(f"CREATE TABLE logs ({declared})")
    exprs = [pl.col(ROW).cast(pl.Int64)]
    for name, column in names.items():
        col = pl.col(column)
        dtype = frame.schema[column]
        if dtype == pl.Boolean:
            col = col.cast(pl.Int64)
        elif not dtype.is_integer() and dtype != pl.String:
            col = col.cast(pl.String)
        exprs.append(col.alias(name))
    placeholders = ", ".join("?" * (len(names) + 1))
    connection.executemany(f"INSERT INTO logs (rowid, {', '.join(chr(34) + n + chr(34) for n in names)}) "
                           f"VALUES ({placeholders})", frame.select(exprs).iter_rows())
    return connection


def sqlite_backend() -> sqliteBackend:
    """pySigma's SQLite backend as Zircolite uses it, keywords searched in the raw line."""
    return sqliteBackend(fulltext_field=KEYWORD_COLUMN)


def sqlite_query(rule: SigmaRule, backend: sqliteBackend | None = None) -> str:
    """The rule's SQLite query, selecting row indexes."""
    [query] = (backend or sqlite_backend()).convert_rule(rule)
    head = "SELECT * FROM logs WHERE "
    assert query.startswith(head), query
    return "SELECT rowid FROM logs WHERE " + query[len(head):]


def sqlite_hits(connection: sqlite3.Connection, query: str) -> set[int]:
    return {row[0] for row in connection.execute(query)}
