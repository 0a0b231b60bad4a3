"""The report stage: store tables in, static HTML pages, summary.json and CSVs out.

Pages are small whatever the store holds: every list is a top-N with counts, computed by Polars
aggregations over lazy scans, never every row. Whatever a table the store lacks (no anomalies
yet, no compliance run) is said plainly on the page rather than shown as an empty success.

Log content is hostile. Every value goes through Jinja2 autoescaping and a finalize hook that
masks personal information and cuts long values; no value from a log ever becomes a link; and a
Content-Security-Policy forbids scripts and every request, so even an escaping bug could neither
run code nor call home.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from secaware.addresses import networks
from secaware.errors import SecawareError
from secaware.inventory import Inventory, attribute, load_inventory
from secaware.prefectures import PREFECTURES
from secaware.privacy import mask_pii
from secaware.report import charts
from secaware.report.labels import Labels
from secaware.schema import ALERTS, EVENTS, INCIDENTS, INGEST_LOG, REJECTS
from secaware.store import Store
from secaware.visible import visible

TOP = 10
MAX_CELL = 300
MAX_RAW = 2000
INCIDENT_ALERTS = 100
INCIDENT_LINES = 30
PREFECTURE_INCIDENTS = 200
#: Incident pages are built this many at a time.
PAGE_CHUNK = 1000
OPEN_CLOSED = ("closed", "resolved", "false_positive", "已处置", "误报")
VERDICT_ORDER = {"不符合": 0, "部分符合": 1, "证据不足": 2, "不适用": 3}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class ReportResult:
    out: str
    index: str
    pages: int = 0
    largest_page: int = 0
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def report(store: str | Path | Store, out: str | Path, *, period: tuple[dt.datetime, dt.datetime] | None = None,
           lang: str = "zh", prefectures: list[str] | None = None, inventory: str | Path | Inventory | None = None,
           mask: bool = True, models: str | Path | None = None) -> ReportResult:
    """Write index.html, a page per prefecture, incident and system, an appendix, summary.json and CSVs."""
    started = time.monotonic()
    store = store if isinstance(store, Store) else Store(store)
    if not store.exists(EVENTS):
        raise SecawareError(f"{store.root}: the store has no events yet; run `secaware ingest` first")
    inv = inventory if isinstance(inventory, Inventory) else load_inventory(inventory)
    t = Labels(lang)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.html"):
        old.unlink()
    start, end = period or _period(store)
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    chosen = prefectures if prefectures else [p.code for p in PREFECTURES]
    data = _Data(store, inv, start, end, chosen, mask, t)
    env = _environment(t, mask)
    result = ReportResult(str(out.absolute()), str((out / "index.html").absolute()), missing=data.missing)
    common = {"t": t, "period": (start, end), "generated": dt.datetime.now(dt.UTC), "missing": data.missing,
              "nav": [(code, t.prefecture_name(code), _prefecture_page(code)) for code in chosen]}

    def write(name: str, template: str, **context: Any) -> None:
        html = env.get_template(template).render(**common, **context)
        (out / name).write_text(html, encoding="utf-8")
        result.pages += 1
        result.largest_page = max(result.largest_page, len(html.encode()))

    summary = data.summary()
    write("index.html", "index.html", s=summary, charts=_index_charts(summary, t))
    for code in chosen:
        write(_prefecture_page(code), "prefecture.html", p=data.prefecture(code), code=code)
    for inc in data.incident_pages():
        write(_incident_page(inc["incident_id"]), "incident.html", inc=inc)
    for system in data.systems_in_scope():
        write(_system_page(system.id), "system.html", system=system, rows=data.compliance_rows(system.id))
    write("appendix.html", "appendix.html", a=data.appendix(models))
    (out / "summary.json").write_text(json.dumps(data.summary_json(summary), ensure_ascii=False, indent=1,
                                                 default=str), encoding="utf-8")
    data.incidents_csv(out / "incidents.csv")
    data.compliance_csv(out / "compliance.csv")
    result.seconds = time.monotonic() - started
    return result


def _period(store: Store) -> tuple[dt.datetime, dt.datetime]:
    lo, hi = store.scan(EVENTS).select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")).collect().row(0)
    now = dt.datetime.now(dt.UTC)
    return (lo or now, (hi or now) + dt.timedelta(microseconds=1))


def _file_name(prefix: str, value: str) -> str:
    clean = _SAFE_NAME.sub("_", value)[:80]
    return f"{prefix}-{clean}.html"


def _prefecture_page(code: str) -> str:
    return _file_name("prefecture", code)


def _incident_page(incident_id: str) -> str:
    return _file_name("incident", incident_id)


def _system_page(system_id: str) -> str:
    return _file_name("system", system_id)


def _environment(t: Labels, mask: bool) -> Environment:
    def finalize(value: Any) -> Any:
        if isinstance(value, Markup) or not isinstance(value, str):
            return value
        return _clean(value, MAX_CELL, mask, t)

    env = Environment(loader=PackageLoader("secaware.report", "templates"), autoescape=select_autoescape(["html"]),
                      finalize=finalize, trim_blocks=True, lstrip_blocks=True)
    # a raw line may be long: cut at MAX_RAW here, escaped now so finalize's shorter cut leaves it alone
    env.filters["raw_line"] = lambda v: escape(_clean(str(v or ""), MAX_RAW, mask, t))
    env.filters["ts"] = lambda v: v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else (v or "-")
    env.filters["day"] = lambda v: v.strftime("%Y-%m-%d") if isinstance(v, dt.datetime | dt.date) else (v or "-")
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else ("-" if v is None else v)
    env.globals.update(incident_page=_incident_page, prefecture_page=_prefecture_page, system_page=_system_page,
                       sev_colour=charts.COLOURS)
    return env


def _clean(text: str, limit: int, mask: bool, t: Labels) -> str:
    text = visible(text)
    if mask:
        text = mask_pii(text)  # both return at once when there is nothing to change
    if len(text) > limit:
        text = f"{text[:limit]}… [{t.cut}, {len(text):,}]"
    return text


def _external(source: str | None) -> bool:
    """An Internet address or network (an IPv6 source's /64), not a private or reserved one."""
    try:
        return ipaddress.ip_network(source or "", strict=False).is_global
    except ValueError:
        return False


def _top_sources(alerts: pl.LazyFrame) -> list[tuple[str, int]]:
    """The external sources with most alerts, an IPv6 source counted by its /64 as incidents name it:
    an attacker spreading its requests over the addresses of its /64 is one source, not many
    small ones below the chart's cut."""
    per_address = alerts.group_by("src_ip").len().collect()
    per_source = (per_address.with_columns(networks(per_address["src_ip"]).alias("source"))
                  .group_by("source").agg(pl.col("len").sum()).sort(["len", "source"], descending=[True, False]))
    return [(source, n) for source, n in per_source.head(TOP * 10).rows() if _external(source)][:TOP]


class _Data:
    """The numbers behind the pages, each computed once with a bounded result."""

    def __init__(self, store: Store, inv: Inventory, start: dt.datetime, end: dt.datetime, chosen: list[str],
                 mask: bool, t: Labels) -> None:
        self.store, self.inv, self.start, self.end, self.chosen, self.mask = store, inv, start, end, chosen, mask
        self.t = t
        self.missing = [name for name in (ALERTS, INCIDENTS, "anomalies", "compliance") if not store.exists(name)]
        self.systems = {s.id: s for s in inv.systems}
        self._incidents: pl.DataFrame | None = None
        self._coverage: pl.DataFrame | None = None

    def _days(self) -> list[str]:
        """The period's days (at most 120 columns in a chart)."""
        return [(self.start + dt.timedelta(days=i)).strftime("%Y-%m-%d")
                for i in range(max(1, (self.end - self.start).days + 1))][:120]

    def _in_period(self, column: str = "ts") -> pl.Expr:
        return (pl.col(column) >= self.start) & (pl.col(column) < self.end)

    # incidents ---------------------------------------------------------------------------------------------
    def incidents(self) -> pl.DataFrame:
        if self._incidents is None:
            if INCIDENTS in self.missing:
                self._incidents = pl.DataFrame(schema=self.store.scan(INCIDENTS).collect_schema())
            else:
                self._incidents = (self.store.scan(INCIDENTS)
                                   .filter((pl.col("last_ts") >= self.start) & (pl.col("first_ts") < self.end)
                                           & (pl.col("prefecture").is_in(self.chosen) | pl.col("prefecture").is_null()))
                                   .collect())
        return self._incidents

    def _open_high(self) -> pl.Expr:
        return pl.col("severity").is_in(["high", "critical"]) & ~pl.col("status").is_in(list(OPEN_CLOSED))

    # coverage ----------------------------------------------------------------------------------------------
    def coverage(self) -> pl.DataFrame:
        """Per system in the inventory: whether it logged in the period, and which of its hosts did."""
        if self._coverage is None:
            seen = (self.store.scan(EVENTS).filter(self._in_period())
                    .select("file", "host", "url_domain", "dst_ip").unique().collect())
            seen = attribute(seen, self.inv)
            hosts_seen = {str(h).lower() for h in seen["host"].drop_nulls().to_list()}
            hosts_seen |= set(seen["dst_ip"].drop_nulls().to_list())
            logged = set(seen["system"].drop_nulls().to_list())
            rows = []
            for s in self.inv.systems:
                expected = list(s.names) + [str(n.network_address) for n in s.networks
                                            if n.num_addresses == 1]
                names = [h for h in expected if h.lower() in hosts_seen]
                rows.append({"system": s.id, "prefecture": s.prefecture, "logged": s.id in logged,
                             "hosts_expected": len(expected), "hosts_logged": len(names)})
            self._coverage = pl.DataFrame(rows, schema={"system": pl.String, "prefecture": pl.String,
                                                        "logged": pl.Boolean, "hosts_expected": pl.Int64,
                                                        "hosts_logged": pl.Int64})
        return self._coverage

    # compliance --------------------------------------------------------------------------------------------
    def compliance(self) -> pl.DataFrame:
        if "compliance" in self.missing:
            return pl.DataFrame(schema={"system": pl.String, "prefecture": pl.String, "clause": pl.String,
                                        "verdict": pl.String})
        return self.store.scan("compliance").collect()

    def compliance_rows(self, system_id: str) -> list[dict[str, Any]]:
        rows = self.compliance().filter(pl.col("system") == system_id)
        if rows.height == 0:
            return []
        return sorted(rows.to_dicts(), key=lambda r: (VERDICT_ORDER.get(r.get("verdict") or "", 9),
                                                      str(r.get("clause"))))

    # pages -------------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        inc = self.incidents()
        events = self.store.scan(EVENTS).filter(self._in_period())
        n_events = int(events.select(pl.len()).collect().item())
        rejects = int(self.store.scan(REJECTS).select(pl.len()).collect().item()) if self.store.exists(REJECTS) \
            else 0
        cov = self.coverage().filter(pl.col("prefecture").is_in(self.chosen))
        days = self._days()
        trend = _trend(inc, days)
        alerts = (self.store.scan(ALERTS).filter(self._in_period() & ~pl.col("suppressed").fill_null(False))
                  if ALERTS not in self.missing else None)
        top_attacks = (alerts.group_by("rule_title").len().sort("len", descending=True).head(TOP).collect().rows()
                       if alerts is not None else [])
        top_sources = _top_sources(alerts) if alerts is not None else []
        top_systems = (inc.filter(pl.col("system").is_not_null())
                       .group_by(pl.coalesce("system_name", "system").alias("system"))
                       .agg(pl.len().alias("incidents"), pl.col("alerts").sum())
                       .sort("incidents", "alerts", descending=True).head(TOP).rows()) if inc.height else []
        comp = self.compliance()
        prefs = []
        for code in self.chosen:
            pinc = inc.filter(pl.col("prefecture") == code) if inc.height else inc
            pcov = cov.filter(pl.col("prefecture") == code)
            noncompliant = comp.filter((pl.col("prefecture") == code) & (pl.col("verdict") == "不符合")).height
            prefs.append({
                "code": code, "incidents": pinc.height,
                "open_high": pinc.filter(self._open_high()).height if pinc.height else 0,
                "noncompliant": noncompliant,
                "systems": pcov.height, "systems_logged": int(pcov["logged"].sum() or 0),
            })
        top = {k: max([p[k] for p in prefs] + [1]) for k in ("incidents", "open_high", "noncompliant")}
        for p in prefs:
            gap = 1 - (p["systems_logged"] / p["systems"]) if p["systems"] else 0
            p["attention"] = round(100 * (0.5 * p["open_high"] / top["open_high"] + 0.2 * p["incidents"] /
                                          top["incidents"] + 0.2 * p["noncompliant"] / top["noncompliant"]
                                          + 0.1 * gap))
        prefs.sort(key=lambda p: (-p["attention"], p["code"]))
        return {
            "events": n_events, "rejects": rejects,
            "systems": cov.height, "systems_logged": int(cov["logged"].sum() or 0),
            "hosts": int(cov["hosts_expected"].sum() or 0), "hosts_logged": int(cov["hosts_logged"].sum() or 0),
            "incidents": inc.height,
            "by_grade": dict(inc.group_by("grade").len().iter_rows()) if inc.height else {},
            "by_severity": dict(inc.group_by("severity").len().iter_rows()) if inc.height else {},
            "open_high": inc.filter(self._open_high()).height if inc.height else 0,
            "alerts": int(alerts.select(pl.len()).collect().item()) if alerts is not None else 0,
            "days": days, "trend": trend, "prefectures": prefs, "top": top,
            "top_attacks": top_attacks, "top_sources": top_sources, "top_systems": top_systems,
            "anomalies": self._anomaly_count(),
        }

    def _anomaly_count(self) -> int | None:
        if "anomalies" in self.missing:
            return None
        lf = self.store.scan("anomalies")
        if "is_anomaly" in lf.collect_schema():
            lf = lf.filter(pl.col("is_anomaly").fill_null(False))
        return int(lf.select(pl.len()).collect().item())

    def prefecture(self, code: str) -> dict[str, Any]:
        inc = self.incidents()
        pinc = inc.filter(pl.col("prefecture") == code) if inc.height else inc
        cov = {r["system"]: r for r in self.coverage().to_dicts()}
        comp = self.compliance()
        systems = []
        for s in self.inv.systems:
            if s.prefecture != code:
                continue
            scomp = comp.filter(pl.col("system") == s.id)
            systems.append({"s": s, "page": _system_page(s.id), "logged": cov.get(s.id, {}).get("logged", False),
                            "incidents": pinc.filter(pl.col("system") == s.id).height if pinc.height else 0,
                            "noncompliant": scomp.filter(pl.col("verdict") == "不符合").height,
                            "partial": scomp.filter(pl.col("verdict") == "部分符合").height})
        findings = (comp.filter((pl.col("prefecture") == code) & pl.col("verdict").is_in(["不符合", "部分符合"]))
                    .to_dicts())
        findings.sort(key=lambda r: (VERDICT_ORDER.get(r.get("verdict") or "", 9), str(r.get("system")),
                                     str(r.get("clause"))))
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        listed = (pinc.with_columns(pl.col("severity").replace_strict(rank, default=4).alias("__r"))
                  .sort("__r", "first_ts", descending=[False, True]).head(PREFECTURE_INCIDENTS).to_dicts()
                  if pinc.height else [])
        days = self._days()
        return {"systems": systems, "findings": findings, "incidents": listed, "total_incidents": pinc.height,
                "trend": _trend_chart(days, _trend(pinc, days), self.t) if pinc.height else None}

    def incident_pages(self) -> Iterator[dict[str, Any]]:
        """One dict per incident page, built a chunk of incidents at a time (bounded memory).

        The timeline groups consecutive alerts of one rule into a run (first and last time, how
        many), so a scanner's 5,000 requests are one row, not 5,000; the raw lines are those of the
        first alerts, where the attacker's variations show.
        """
        inc = self.incidents()
        for offset in range(0, inc.height, PAGE_CHUNK):
            chunk = inc.slice(offset, PAGE_CHUNK)
            wanted = chunk.select("incident_id", pl.col("alert_ids").list.head(INCIDENT_ALERTS)).explode("alert_ids")
            ids = wanted["alert_ids"].drop_nulls().implode()
            alerts = (self.store.scan(ALERTS).filter(pl.col("alert_id").is_in(ids))
                      .select("alert_id", "ts", "level", "rule_title", "group_key", "count", "event_id", "file",
                              "line_no", "src_ip").collect())
            alerts = wanted.join(alerts, left_on="alert_ids", right_on="alert_id").sort("incident_id", "ts")
            runs = (alerts.with_columns((pl.col("rule_title") != pl.col("rule_title").shift(1).over("incident_id"))
                                        .fill_null(True).cum_sum().over("incident_id").alias("__run"))
                    .group_by("incident_id", "__run", maintain_order=True)
                    .agg(pl.col("ts").first().dt.strftime("%Y-%m-%d %H:%M:%S").alias("first"),
                         pl.col("ts").last().dt.strftime("%Y-%m-%d %H:%M:%S").alias("last"),
                         pl.len().alias("n"), pl.col("count").fill_null(1).sum().alias("count"),
                         *[pl.col(c).first() for c in ("level", "rule_title", "group_key", "src_ip", "event_id",
                                                        "file", "line_no")]))
            first_lines = alerts.group_by("incident_id", maintain_order=True).head(INCIDENT_LINES)
            raw = (self.store.scan(EVENTS)
                   .filter(pl.col("event_id").is_in(first_lines["event_id"].drop_nulls().unique().implode()))
                   .select("event_id", "raw").collect())
            lines = first_lines.select("incident_id", "event_id", "file", "line_no").join(raw, on="event_id")
            by_runs = runs.partition_by("incident_id", as_dict=True, include_key=False)
            by_lines = lines.partition_by("incident_id", as_dict=True, include_key=False)
            for row in chunk.to_dicts():
                key = (row["incident_id"],)
                row["alert_rows"] = by_runs[key].to_dicts() if key in by_runs else []
                row["lines"] = by_lines[key].to_dicts() if key in by_lines else []
                shown = sum(r["n"] for r in row["alert_rows"])
                row["more_alerts"] = max(0, (row["alerts"] or 0) - shown)
                yield row

    def systems_in_scope(self) -> list[Any]:
        return [s for s in self.inv.systems if s.prefecture in self.chosen]

    def appendix(self, models: str | Path | None) -> dict[str, Any]:
        rules = []
        if ALERTS not in self.missing:
            rules = (self.store.scan(ALERTS).filter(self._in_period())
                     .group_by("rule_id", "rule_title", "level", "kind").len().sort("len", descending=True)
                     .collect().to_dicts())
        by_level: dict[str, int] = {}
        for r in rules:
            by_level[r["level"] or "-"] = by_level.get(r["level"] or "-", 0) + 1
        data = []
        if self.store.exists(INGEST_LOG):
            data = (self.store.scan(INGEST_LOG).group_by("format")
                    .agg(pl.col("file").n_unique().alias("files"), pl.col("lines").sum(), pl.col("events").sum(),
                         pl.col("rejects").sum()).sort("lines", descending=True).collect().to_dicts())
        reasons = []
        if self.store.exists(REJECTS):
            reasons = (self.store.scan(REJECTS).group_by("reason").len().sort("len", descending=True).head(20)
                       .collect().rows())
        cards = []
        folder = Path(models) if models else None
        if folder is not None and folder.is_dir():
            for card in sorted(folder.glob("*.json"))[:20]:
                try:
                    cards.append({"file": card.name, "card": json.loads(card.read_text(encoding="utf-8"))})
                except (OSError, ValueError):
                    cards.append({"file": card.name, "card": {"error": "unreadable"}})
        return {"rules": rules[:200], "rules_total": len(rules), "by_level": by_level, "data": data,
                "reasons": reasons, "cards": cards}

    # exports -----------------------------------------------------------------------------------------------
    def summary_json(self, summary: dict[str, Any]) -> dict[str, Any]:
        keep = {k: v for k, v in summary.items() if k not in ("trend", "top")}
        keep["period"] = [self.start.isoformat(), self.end.isoformat()]
        keep["missing_tables"] = self.missing
        keep["top_sources"] = [[ip, n] for ip, n in summary["top_sources"]]
        return json.loads(json.dumps(keep, default=str))

    def _masked(self, frame: pl.DataFrame) -> pl.DataFrame:
        if not self.mask:
            return frame
        strings = [c for c, t in frame.schema.items() if t == pl.String]
        return frame.with_columns(pl.col(c).map_elements(mask_pii, return_dtype=pl.String) for c in strings)

    def incidents_csv(self, path: Path) -> None:
        inc = self.incidents()
        cols = ["incident_id", "first_ts", "last_ts", "actor", "system", "system_name", "target", "prefecture",
                "protection_level", "alerts", "events", "severity", "grade", "category", "subcategory", "stage",
                "success", "success_evidence", "status", "notes"]
        frame = inc.select([c for c in cols if c in inc.columns]) if inc.height else pl.DataFrame(
            schema={c: pl.String for c in cols})
        self._masked(frame).write_csv(path)

    def compliance_csv(self, path: Path) -> None:
        comp = self.compliance()
        frame = comp.select([c for c, t in comp.schema.items() if not isinstance(t, pl.List | pl.Struct)])
        self._masked(frame).write_csv(path)


def _trend(incidents: pl.DataFrame, days: list[str]) -> dict[str, list[int]]:
    """Incidents per day of days (by first time) and severity."""
    trend = {sev: [0] * len(days) for sev in ("critical", "high", "medium", "low")}
    if incidents.height:
        index = {d: i for i, d in enumerate(days)}
        per_day = incidents.group_by(pl.col("first_ts").dt.strftime("%Y-%m-%d").alias("day"), "severity").len()
        for day, sev, n in per_day.iter_rows():
            if day in index and sev in trend:
                trend[sev][index[day]] += n
    return trend


def _trend_chart(days: list[str], trend: dict[str, list[int]], t: Labels) -> Markup:
    """The daily trend as stacked columns, severities named in the report's language."""
    return charts.stacked_columns(days, {t.severity_name(k): v for k, v in trend.items()}, title=t.trend,
                                  colours={t.severity_name(k): c for k, c in charts.COLOURS.items()})


def _index_charts(summary: dict[str, Any], t: Labels) -> dict[str, Markup]:
    return {
        "trend": _trend_chart(summary["days"], summary["trend"], t),
        "attacks": charts.bars([(mask_pii(str(a)), n) for a, n in summary["top_attacks"]], title=t.top_attacks),
        "sources": charts.bars([(str(a), n) for a, n in summary["top_sources"]], title=t.top_sources,
                               colour="#dc2626", label_width=120),
        "systems": charts.bars([(str(s), n) for s, n, _ in summary["top_systems"]], title=t.top_systems,
                               colour="#7c3aed", label_width=220),
    }


def clear(out: str | Path) -> None:
    """Remove a report folder written before (used by demo)."""
    shutil.rmtree(out, ignore_errors=True)
