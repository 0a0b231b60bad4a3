"""The detect stage: rules over the events not scored before, alerts written exactly once.

Nightly runs score only new ingest batches. Two Delta transaction versions in the alerts table
record how far single-event rules and correlation rules got, each committed atomically with the
alerts it produced, so a run killed at any point and started again neither loses nor duplicates
alerts. Correlation windows reach back into already scored events (and into the episodes already
reported), so a brute force that spans two nights is one alert, updated, not two.

Events are read in slices of event ids, with only the columns the rules use, so memory stays
bounded however large the store grows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from secaware.detect.allowlist import AllowEntry, load_allowlist, parse_address, suppression
from secaware.detect.correlate import (
    CARRY,
    EPISODE_SCHEMA,
    as_events,
    correlate,
    correlation_columns,
    correlation_input,
)
from secaware.detect.engine import DERIVED, ROW, match, match_each
from secaware.detect.memo import MEMO
from secaware.detect.rules import Compilation, CompiledCorrelation, compile_rules
from secaware.errors import SecawareError
from secaware.resources import bundled
from secaware.schema import ALERTS, EVENTS, UTC_TS, schema
from secaware.store import Store

APP_EVENTS = "secaware-detect"
APP_CORRELATE = "secaware-correlate"
APP_WINDOW = "secaware-detect-window"
#: Events scored at once; bounds memory (about 1 KB per event with the columns rules read).
CHUNK_ROWS = 500_000
_BASE_COLUMNS = ("event_id", "ts", "batch_id", *CARRY)


@dataclass
class DetectReport:
    store: str
    rules: int = 0
    correlations: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    events: int = 0
    alerts: int = 0
    correlation_alerts: int = 0
    suppressed: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    window: tuple[str | None, str | None] | None = None
    nothing_new: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["failed"] = [{"file": f, "reason": r} for f, r in self.failed]
        return out


def detect(
    store: str | Path | Store,
    rules: Sequence[str | Path] | None = None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    allowlist: str | Path | None = None,
    allow: Iterable[str] = (),
    compilation: Compilation | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> DetectReport:
    """Run the rules over events not scored yet (or over the window since..until, rewriting its alerts).

    rules: rule files and folders (default: the shipped pack). Rules that fail to compile are
    reported and left out; the rest run. allowlist/allow: sources whose alerts are kept but
    suppressed (authorized scanners).
    """
    started = time.monotonic()
    since = since.astimezone(dt.UTC) if since is not None else None
    until = until.astimezone(dt.UTC) if until is not None else None
    store = store if isinstance(store, Store) else Store(store)
    if not store.exists(EVENTS):
        raise SecawareError(f"{store.root}: the store has no events yet; run `secaware ingest` first")
    comp = compilation or compile_rules(rules or [bundled("rules")])
    entries = load_allowlist(allowlist) if allowlist else []
    entries += [AllowEntry(parse_address(a, "--allow"), a) for a in allow]
    report = DetectReport(str(store.root), rules=len(comp.rules), correlations=len(comp.correlations),
                          failed=list(comp.failed))
    if not comp.rules:
        raise SecawareError("no rule compiled; see `secaware rules check` for the reasons")
    events = store.scan(EVENTS)
    windowed = since is not None or until is not None
    if windowed:
        report.window = (since.isoformat() if since else None, until.isoformat() if until else None)
        scope = _ts_between(since, until)
        done_events = done_corr = -1
        max_batch = None
    else:
        max_batch = events.select(pl.col("batch_id").max()).collect().item()
        done_events = store.committed_batch(ALERTS, APP_EVENTS)
        done_corr = store.committed_batch(ALERTS, APP_CORRELATE)
        done_events = -1 if done_events is None else done_events
        done_corr = -1 if done_corr is None else done_corr
        if not comp.correlations:
            done_corr = max_batch if max_batch is not None else -1
        if max_batch is None or min(done_events, done_corr) >= max_batch:
            report.nothing_new = True
            report.seconds = time.monotonic() - started
            return report
        scope = pl.col("batch_id") > min(done_events, done_corr)

    base = _base_rules(comp)
    columns = columns_read(comp)
    detected_at = dt.datetime.now(dt.UTC)
    single_parts: list[Any] = []
    tagged_new: dict[int, list[pl.DataFrame]] = {}
    metas = _rule_meta(comp)
    outputs = [i for i, r in enumerate(comp.rules) if r.output]
    slices = _slices(events, scope)
    total, done = sum(n for _, _, n in slices), 0

    def chunks() -> Iterator[pl.DataFrame]:
        for lo, hi, _ in slices:
            frame = events.filter(pl.col("event_id").is_between(lo, hi) & scope).select(columns).collect()
            if frame.height:
                yield frame

    # chunks are matched two at a time (engine.match_each) and the next one read meanwhile
    try:
        for frame, hits in match_each(chunks(), comp.rules):
            report.events += frame.height
            single = hits.filter(pl.col("rule").is_in(outputs))
            if not windowed:
                single = single.filter(pl.Series(frame["batch_id"] > done_events).gather(single[ROW]))
            alerts = _event_alerts(frame, single, metas, detected_at, entries)
            single_parts.append(store.stage(ALERTS, alerts))
            _count(report, alerts)
            if base:
                tagged = hits.filter(pl.col("rule").is_in(base))
                if not windowed:
                    tagged = tagged.filter(pl.Series(frame["batch_id"] > done_corr).gather(tagged[ROW]))
                for rule, rows in _tag(frame, tagged, comp).items():
                    tagged_new.setdefault(rule, []).append(rows)
            done = min(done + frame.height, total)
            if progress:
                progress("detect", done, total)
        if progress and done < total:
            progress("detect", total, total)
    finally:
        MEMO.clear()  # what the chunks taught is of no use after detection (or after a failure): give it back

    if windowed:
        store.delete(ALERTS, _window_predicate(since, until))
        store.commit(ALERTS, single_parts, app_id=APP_WINDOW, batch_id=None)
    elif done_events < max_batch:
        store.commit(ALERTS, single_parts, app_id=APP_EVENTS, batch_id=max_batch)

    if comp.correlations and (windowed or done_corr < max_batch):
        corr_alerts = _correlations(store, comp, events, tagged_new, detected_at, entries,
                                    old_scope=None if windowed else pl.col("batch_id") <= done_corr,
                                    since=since, until=until)
        _count(report, corr_alerts)
        report.correlation_alerts = corr_alerts.height
        if corr_alerts.height and store.exists(ALERTS):
            ids = ", ".join(f"'{a}'" for a in corr_alerts["alert_id"].to_list())
            store.delete(ALERTS, f"kind = 'correlation' AND alert_id IN ({ids})")
        store.commit(ALERTS, [store.stage(ALERTS, corr_alerts)], app_id=APP_WINDOW if windowed else APP_CORRELATE,
                     batch_id=None if windowed else max_batch)
    report.seconds = time.monotonic() - started
    return report


def _ts_between(since: dt.datetime | None, until: dt.datetime | None, column: str = "ts") -> pl.Expr:
    cond = pl.lit(True)
    if since is not None:
        cond = cond & (pl.col(column) >= since)
    if until is not None:
        cond = cond & (pl.col(column) < until)
    return cond


def _window_predicate(since: dt.datetime | None, until: dt.datetime | None) -> str:
    parts = []
    if since is not None:
        parts.append(f"ts >= '{since.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S')}'")
    if until is not None:
        parts.append(f"ts < '{until.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S')}'")
    return " AND ".join(parts) or "true"


def columns_read(comp: Compilation) -> list[str]:
    """Only the event columns some rule, correlation or alert needs (raw is large: read it only if used)."""
    have = set(schema(EVENTS))
    wanted = set(_BASE_COLUMNS)
    for rule in comp.rules:
        for name in rule.columns:  # a derived column (engine.DERIVED): the columns it is computed from
            wanted.update(DERIVED[name].meta.root_names() if name in DERIVED else (name,))
    for corr in comp.correlations:
        wanted.update(correlation_input(corr))
    return [c for c in schema(EVENTS) if c in wanted and c in have]


def _slices(events: pl.LazyFrame, scope: pl.Expr) -> list[tuple[int, int, int]]:
    """Event id ranges of at most CHUNK_ROWS events in scope (ids are batch_id * 2**24 + row)."""
    batches = (events.filter(scope).group_by("batch_id")
               .agg(pl.col("event_id").min().alias("lo"), pl.col("event_id").max().alias("hi"), pl.len().alias("n"))
               .sort("batch_id").collect())
    out = []
    for lo, hi, n in batches.select("lo", "hi", "n").iter_rows():
        parts = max(1, -(-n // CHUNK_ROWS))
        step = -(-(hi - lo + 1) // parts)
        for k in range(parts):
            a, b = lo + k * step, min(hi, lo + (k + 1) * step - 1)
            out.append((a, b, n // parts))
    return out


def _rule_key(rule_id: str) -> str:
    return hashlib.sha1(rule_id.encode(), usedforsecurity=False).hexdigest()[:10]


def _rule_meta(comp: Compilation) -> pl.DataFrame:
    return pl.DataFrame({
        "rule": list(range(len(comp.rules))),
        "rule_id": [r.rule_id for r in comp.rules],
        "rule_title": [r.title for r in comp.rules],
        "level": [r.level for r in comp.rules],
        "tags": [r.tags for r in comp.rules],
        "output": [r.output for r in comp.rules],
        "rule_key": [_rule_key(r.rule_id) for r in comp.rules],
    }, schema_overrides={"rule": pl.UInt32, "tags": pl.List(pl.String)})


def _finish(alerts: pl.DataFrame, entries: list[AllowEntry]) -> pl.DataFrame:
    suppressed, by = suppression(entries)
    alerts = alerts.with_columns(suppressed, by)
    cols = schema(ALERTS)
    return alerts.select([pl.col(c).cast(t) if c in alerts.columns else pl.lit(None, dtype=t).alias(c)
                          for c, t in cols.items()])


def _event_alerts(frame: pl.DataFrame, hits: pl.DataFrame, metas: pl.DataFrame, detected_at: dt.datetime,
                  entries: list[AllowEntry]) -> pl.DataFrame:
    if hits.height == 0:
        return pl.DataFrame(schema=schema(ALERTS))
    rows = _hit_rows(frame, hits, metas)
    alerts = rows.with_columns(
        pl.concat_str([pl.col("rule_key"), pl.lit("-"), pl.col("event_id").cast(pl.String)]).alias("alert_id"),
        pl.lit("event").alias("kind"),
        pl.lit(1, dtype=pl.Int64).alias("count"),
        pl.col("ts").alias("first_ts"),
        pl.col("ts").alias("last_ts"),
        pl.lit(detected_at, dtype=UTC_TS).alias("detected_at"),
    )
    return _finish(alerts, entries)


def _tag(frame: pl.DataFrame, tagged: pl.DataFrame, comp: Compilation) -> dict[int, pl.DataFrame]:
    """Rows for correlations, per base rule: (event, rule) with the columns the correlations that
    count that rule read.

    Only those: the columns an alert carries (file, line, host...) are looked up for the few
    episodes that fire (`_carried`), and a web request counted by the flood rule keeps its time and
    address, not the paths and ports other correlations read. A night's tags are most of its web
    requests, a size that grows with the night: with every carried column they held 792 MB for 5M
    rows.
    """
    columns = _tag_columns(comp)
    out = {}
    for (rule,), hits in tagged.partition_by("rule", as_dict=True).items():
        out[int(rule)] = _hit_rows(frame.select([c for c in frame.columns if c in columns[int(rule)]]), hits)
    return out


def _tag_columns(comp: Compilation) -> dict[int, set[str]]:
    """Per base rule (a single-event rule or a correlation), the columns its correlations read."""
    out: dict[int, set[str]] = {}
    for corr in comp.correlations:
        for rule in corr.base:
            out.setdefault(rule, {"rule", "ts", "event_id"}).update(correlation_columns(corr))
    return out


def correlate_all(tags: dict[int, pl.DataFrame], comp: Compilation) -> Iterator[tuple[int, pl.DataFrame]]:
    """(j, episodes of comp.correlations[j]) for each correlation, over the tags of its base rules
    (`_tag`); the episodes of a correlation another one counts become tags of their own."""
    tags = dict(tags)
    referenced = {i for c in comp.correlations for i in c.base}
    for j, corr in enumerate(comp.correlations):
        parts = [tags[rule] for rule in corr.base if rule in tags]
        episodes = (correlate(pl.concat(parts, how="diagonal_relaxed"), corr) if parts
                    else pl.DataFrame(schema=EPISODE_SCHEMA))
        if len(comp.rules) + j in referenced:  # its episodes are events of a later correlation
            tags[len(comp.rules) + j] = as_events(episodes, len(comp.rules) + j)
        yield j, episodes


def _hit_rows(frame: pl.DataFrame, hits: pl.DataFrame, metas: pl.DataFrame | None = None) -> pl.DataFrame:
    """The frame's row of each (row, rule) hit with its rule (and the rule's columns from metas).

    Taken by position, not joined: hits index the frame's rows, and metas is indexed by rule. A
    night's base-rule hits are most web requests (3.2M rows); joining them to their chunks on a
    row index hashed every row and took 2.1 s.
    """
    rows = frame.gather(hits[ROW]).with_columns(hits["rule"])
    if metas is None:
        return rows
    return pl.concat([rows, metas.drop("rule")[hits["rule"]]], how="horizontal")


def _correlations(store: Store, comp: Compilation, events: pl.LazyFrame, tagged_new: dict[int, list[pl.DataFrame]],
                  detected_at: dt.datetime, entries: list[AllowEntry], *, old_scope: pl.Expr | None,
                  since: dt.datetime | None, until: dt.datetime | None) -> pl.DataFrame:
    """Correlation alerts for episodes that touch the new events, reaching back into older ones."""
    new = {rule: pl.concat(parts, how="diagonal_relaxed") for rule, parts in tagged_new.items() if parts}
    if not any(rows.height for rows in new.values()):
        return pl.DataFrame(schema=schema(ALERTS))
    newest = max(rows["ts"].max() for rows in new.values())  # type: ignore[type-var]
    oldest_new = min(rows["ts"].min() for rows in new.values())  # type: ignore[type-var]
    span = dt.timedelta(seconds=max(c.timespan_s for c in comp.correlations))
    start = oldest_new - span  # type: ignore[operator]
    # an episode already reported that is still open is recomputed from its beginning
    if store.exists(ALERTS):
        open_start = (store.scan(ALERTS).filter((pl.col("kind") == "correlation") & (pl.col("last_ts") >= start))
                      .select(pl.col("first_ts").min()).collect().item())
        if open_start is not None and open_start < start:
            start = open_start
    if old_scope is not None:
        older = _old_tagged(comp, events, old_scope & (pl.col("ts") >= start) & (pl.col("ts") <= newest))
        for rule, rows in older.items():
            new[rule] = pl.concat([rows, new[rule]], how="diagonal_relaxed") if rule in new else rows
    out = []
    for j, episodes in correlate_all(new, comp):
        corr = comp.correlations[j]
        episodes = episodes.filter(pl.col("last_ts") >= oldest_new)
        if since is not None or until is not None:
            episodes = episodes.filter(_ts_between(since, until))
        if episodes.height and corr.output:
            out.append(_correlation_alerts(episodes, corr, detected_at))
    if not out:
        return pl.DataFrame(schema=schema(ALERTS))
    return _finish(_carried(events, pl.concat(out, how="diagonal_relaxed")), entries)


def _carried(events: pl.LazyFrame, alerts: pl.DataFrame) -> pl.DataFrame:
    """Correlation alerts with the carried columns of the event each is anchored on (its event_id:
    the first event that made its window fire), read from the store."""
    ids = alerts["event_id"].drop_nulls().unique()
    columns = [c for c in CARRY if c != "event_id"]
    found = (events.filter(pl.col("event_id").is_in(ids.implode())).select("event_id", *columns)
             .unique("event_id").collect())
    return alerts.drop([c for c in columns if c in alerts.columns]).join(found, on="event_id", how="left",
                                                                         maintain_order="left")


def _base_rules(comp: Compilation) -> list[int]:
    """Single-event rules some correlation counts."""
    return sorted({i for c in comp.correlations for i in c.base if i < len(comp.rules)})


def _old_tagged(comp: Compilation, events: pl.LazyFrame, scope: pl.Expr) -> dict[int, pl.DataFrame]:
    """Base-rule matches among already scored events in the look-back window (as `_tag`)."""
    base = _base_rules(comp)
    rules = [comp.rules[i] for i in base]
    sub = Compilation(rules=rules, correlations=comp.correlations)
    frame = events.filter(scope).select(columns_read(sub)).collect()
    if frame.height == 0:
        return {}
    hits = match(frame, rules).with_columns(pl.col("rule").replace_strict(dict(enumerate(base)),
                                                                          return_dtype=pl.UInt32))
    return _tag(frame, hits, comp)


def _correlation_alerts(episodes: pl.DataFrame, corr: CompiledCorrelation, detected_at: dt.datetime) -> pl.DataFrame:
    ids = [
        "c-" + hashlib.sha1(f"{corr.rule_id}|{key}|{ts.isoformat()}".encode(), usedforsecurity=False).hexdigest()[:16]
        for key, ts in episodes.select("group_key", "ts").iter_rows()
    ]
    return episodes.with_columns(
        pl.Series("alert_id", ids, dtype=pl.String),
        pl.lit(corr.rule_id).alias("rule_id"),
        pl.lit(corr.title).alias("rule_title"),
        pl.lit(corr.level, dtype=pl.String).alias("level"),
        pl.lit(pl.Series([corr.tags], dtype=pl.List(pl.String))).first().alias("tags"),
        pl.lit("correlation").alias("kind"),
        pl.lit(detected_at, dtype=UTC_TS).alias("detected_at"),
    )


def _count(report: DetectReport, alerts: pl.DataFrame) -> None:
    report.alerts += alerts.height
    report.suppressed += int(alerts["suppressed"].sum() or 0) if alerts.height else 0
    for level, n in alerts.group_by("level").len().iter_rows():
        report.by_level[level or "unknown"] = report.by_level.get(level or "unknown", 0) + n
