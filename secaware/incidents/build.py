"""Incidents: alerts grouped by actor and target, close in time, each graded and categorized.

Thousands of alerts from one scanner against one portal are one thing to look at. Alerts of one
source against one system (from the inventory; else one host) whose times are within `gap` of
each other form one incident. Authorized scanners (the inventory's `scanners`) and allowlisted
sources (suppressed alerts) never open one.

The table is small and rewritten whole on each run, but an incident keeps its id as long as it
overlaps the one written before (same actor and target), so reruns update it, and the status and
notes a responder gave it stay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from secaware.addresses import in_network, networks
from secaware.errors import SecawareError
from secaware.incidents import signals, taxonomy
from secaware.inventory import Inventory, attribute, load_inventory
from secaware.schema import ALERTS, EVENTS, INCIDENTS, UTC_TS, schema
from secaware.store import Store

#: An attacker who pauses for lunch or comes back in the evening to use the web shell planted in the
#: afternoon is still one intrusion; a day later it is a new one.
DEFAULT_GAP = dt.timedelta(hours=4)
MAX_ALERT_IDS = 1000
#: Statuses the tool sets; anything else was set by a responder and is kept.
AUTO_STATUSES = ("new", "updated", "seen")


@dataclass
class IncidentReport:
    store: str
    alerts: int = 0
    anomalies: int = 0
    suppressed: int = 0
    incidents: int = 0
    new: int = 0
    updated: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    by_grade: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def incidents(store: str | Path | Store, *, inventory: str | Path | Inventory | None = None,
              gap: dt.timedelta = DEFAULT_GAP, min_level: str = "medium") -> IncidentReport:
    """Group the alerts in the store into incidents and write the incidents table.

    An incident needs at least one alert of min_level or above (or a sign of success).
    """
    if min_level not in taxonomy.LEVEL_RANK:
        raise SecawareError(f"min_level {min_level!r}: one of {', '.join(taxonomy.LEVEL_RANK)}")
    started = time.monotonic()
    store = store if isinstance(store, Store) else Store(store)
    inv = inventory if isinstance(inventory, Inventory) else load_inventory(inventory)
    if not store.exists(ALERTS):
        raise SecawareError(f"{store.root}: the store has no alerts yet; run `secaware detect` first")
    report = IncidentReport(str(store.root))
    alerts = _candidate_alerts(store, inv, report)
    now = dt.datetime.now(dt.UTC)
    built = _group(alerts, gap) if alerts.height else pl.DataFrame(schema=schema(INCIDENTS))
    if alerts.height:
        built = _success(built, alerts, store.scan(EVENTS), gap)
        # low and informational alerts (a password login, a probe of one path) add to an incident but
        # never open one on their own, unless something shows the attack worked
        opens = taxonomy.LEVEL_RANK[min_level]
        built = built.filter((pl.col("__rank") >= opens) | pl.col("success"))
        built = _describe(built, inv)
    merged = _carry_over(built, store.scan(INCIDENTS).collect() if store.exists(INCIDENTS) else None, now)
    store.replace(INCIDENTS, merged)
    report.incidents = merged.height
    report.new = int((merged["status"] == "new").sum())
    report.updated = int((merged["status"] == "updated").sum())
    report.by_severity = dict(merged.group_by("severity").len().iter_rows())
    report.by_grade = dict(merged.group_by("grade").len().iter_rows())
    report.seconds = time.monotonic() - started
    return report


def _candidate_alerts(store: Store, inv: Inventory, report: IncidentReport) -> pl.DataFrame:
    """Alerts that may open incidents, with the system they hit."""
    alerts = store.scan(ALERTS).collect()
    report.alerts = alerts.height
    alerts = attribute(alerts, inv)
    found = _anomaly_rows(store)
    if found.height:
        report.anomalies = found.height
        alerts = pl.concat([alerts, found], how="diagonal_relaxed")
    scanners = [(s.id, n) for s in inv.systems for n in s.scanners]
    scanner = pl.lit(False)
    for _, net in scanners:  # an authorized scanner of any system scans them all
        scanner = scanner | in_network(pl.col("src_ip"), net)
    keep = ~pl.col("suppressed").fill_null(False) & ~scanner.fill_null(False)
    report.suppressed = alerts.height - alerts.filter(keep).height
    alerts = alerts.filter(keep)
    # an IPv6 source is its /64: one attacker rotating addresses within it is one incident
    alerts = alerts.with_columns(pl.coalesce(networks(alerts["src_ip"]), "host", pl.lit("unknown")).alias("actor"))
    alerts = _attach_to_known_system(alerts)
    return alerts.with_columns(
        pl.when(pl.col("system").is_null()).then(pl.coalesce("dst_ip", "host", "prefecture", pl.lit("unknown")))
        .alias("target"),
        pl.coalesce("last_ts", "ts").alias("end_ts"),
    )


def _attach_to_known_system(alerts: pl.DataFrame, within: dt.timedelta = DEFAULT_GAP) -> pl.DataFrame:
    """A finding with no system (a firewall record, a per-source behaviour window) goes to the system the same
    actor was attacking nearest in time, so one actor's scan and its firewall trail are one incident."""
    if alerts.height == 0 or alerts["system"].null_count() in (0, alerts.height):
        return alerts
    known = (alerts.filter(pl.col("system").is_not_null())
             .select("actor", pl.col("ts").alias("__ts"), pl.col("system").alias("__system")).sort("__ts"))
    indexed = alerts.with_row_index("__i")
    unknown = indexed.filter(pl.col("system").is_null()).select("__i", "actor", "ts").sort("ts")
    found = unknown.join_asof(known, left_on="ts", right_on="__ts", by="actor", strategy="nearest",
                              tolerance=within, check_sortedness=False).select("__i", "__system")
    return (indexed.join(found, on="__i", how="left")
            .with_columns(pl.coalesce("system", "__system").alias("system")).sort("__i").drop("__i", "__system"))


#: Anomalies as incident evidence: a behaviour anomaly (a scan, a burst of failures, an exfiltration, an
#: off-hours login from a new place) can open an incident; a single odd request only joins one.
ANOMALY_LEVEL = {"behaviour": "medium", "request": "low"}


def _anomaly_rows(store: Store) -> pl.DataFrame:
    """The anomalies table's flagged rows in the shape of alerts (kind `anomaly`), if the table exists."""
    if not store.exists("anomalies"):
        return pl.DataFrame()
    rows = store.scan("anomalies").filter(pl.col("is_anomaly").fill_null(False)).collect()
    if rows.height == 0:
        return pl.DataFrame()
    ip = pl.col("entity_type") == "ip"
    return rows.select(
        pl.concat_str([pl.lit("anomaly:"), pl.col("anomaly_id").cast(pl.String)]).alias("alert_id"),
        pl.col("window_start").alias("ts"),
        pl.col("window_end").alias("last_ts"),
        pl.concat_str([pl.lit("anomaly-"), pl.col("kind")]).alias("rule_id"),
        pl.concat_str([pl.lit("Anomalous "), pl.col("kind"), pl.lit(" ("), pl.col("entity_type"), pl.lit(")")])
        .alias("rule_title"),
        pl.col("kind").replace_strict(ANOMALY_LEVEL, default="low").alias("level"),
        pl.lit([], dtype=pl.List(pl.String)).alias("tags"),
        pl.when(ip).then(pl.col("entity")).alias("src_ip"),
        pl.when(ip).then(pl.col("host")).otherwise(pl.col("entity")).alias("host"),
        "prefecture", "system", "file", "line_no", "event_id",
        pl.lit("anomaly").alias("kind"),
        pl.col("events").cast(pl.Int64).alias("count"),
        pl.lit(False).alias("suppressed"),
    )


def _group(alerts: pl.DataFrame, gap: dt.timedelta) -> pl.DataFrame:
    keys = ["actor", "system", "target"]
    ordered = alerts.sort([*keys, "ts", "alert_id"], nulls_last=True).with_columns(
        pl.col("end_ts").cum_max().over(keys, order_by="ts").alias("__reach"))
    ordered = ordered.with_columns(
        ((pl.col("ts") - pl.col("__reach").shift(1).over(keys, order_by="ts")) > gap).fill_null(True)
        .cum_sum().over(keys, order_by="ts").alias("__n"))
    rule_counts = (ordered.group_by([*keys, "__n", "rule_id", "rule_title", "level"])
                   .agg(pl.len().cast(pl.Int64).alias("count"))
                   .sort("count", descending=True)
                   .group_by([*keys, "__n"])
                   .agg(pl.struct("rule_id", "rule_title", "level", "count").alias("rule_counts")))
    grouped = ordered.group_by([*keys, "__n"]).agg(
        pl.col("ts").min().alias("first_ts"),
        pl.col("end_ts").max().alias("last_ts"),
        pl.col("prefecture").drop_nulls().mode().first().alias("prefecture"),
        pl.len().cast(pl.Int64).alias("alerts"),
        pl.col("count").fill_null(1).sum().cast(pl.Int64).alias("events"),
        pl.col("alert_id").first().alias("first_alert"),
        pl.col("alert_id").head(MAX_ALERT_IDS).alias("alert_ids"),
        pl.col("tags").list.explode(keep_nulls=False, empty_as_null=False).unique().alias("all_tags"),
        pl.col("level").replace_strict(taxonomy.LEVEL_RANK, default=0, return_dtype=pl.Int8).max().alias("__rank"),
        pl.col("ts").filter(signals.is_brute_force()).min().alias("brute_first_ts"),
        (pl.col("kind") != "anomaly").sum().alias("__signatures"),
    )
    grouped = grouped.join(rule_counts, on=[*keys, "__n"], how="left", nulls_equal=True)
    ids = [
        "INC-" + hashlib.sha1(f"{a}|{s}|{t}|{f}".encode(), usedforsecurity=False).hexdigest()[:12].upper()
        for a, s, t, f in grouped.select("actor", "system", "target", "first_alert").iter_rows()
    ]
    return grouped.with_columns(pl.Series("incident_id", ids, dtype=pl.String),
                                pl.Series("incident_key", ids, dtype=pl.String),
                                (pl.col("last_ts") + gap).alias("horizon"))


def _success(built: pl.DataFrame, alerts: pl.DataFrame, events: pl.LazyFrame, gap: dt.timedelta) -> pl.DataFrame:
    web = signals.web_success(alerts, events)
    by_alert = (built.select("incident_key", "alert_ids").explode("alert_ids")
                .join(web, left_on="alert_ids", right_on="alert_id")
                .group_by("incident_key").agg(pl.col("evidence").unique().sort().head(3).str.join("; ")))
    logins = signals.login_after_brute_force(built, events)
    out = built.join(by_alert, on="incident_key", how="left").join(logins, on="incident_key", how="left")
    evidence = pl.concat_str([pl.col("evidence"), pl.col("login_evidence")], separator="; ", ignore_nulls=True)
    return out.with_columns(
        pl.when(evidence != "").then(evidence).alias("success_evidence"),
    ).with_columns(pl.col("success_evidence").is_not_null().alias("success"))


def _describe(built: pl.DataFrame, inv: Inventory) -> pl.DataFrame:
    """Stage, category, severity and grade of each incident, and its system's name and level."""
    systems = {s.id: s for s in inv.systems}
    rows = []
    for row in built.select("incident_key", "system", "all_tags", "__rank", "success", "__signatures") \
            .iter_rows(named=True):
        tags = row["all_tags"] or []
        tactics = sorted({t.removeprefix("attack.") for t in tags if t.removeprefix("attack.") in
                          taxonomy.TACTIC_ORDER}, key=taxonomy.TACTIC_ORDER.__getitem__)
        cat, sub = taxonomy.category(tags, tactics, anomaly_only=row["__signatures"] == 0)
        rank = max(1, int(row["__rank"] or 0)) + (1 if row["success"] else 0)
        severity = taxonomy.SEVERITIES[min(rank, 4) - 1]
        system = systems.get(row["system"] or "")
        grade, reason = _grade(row["success"], system)
        rows.append({
            "incident_key": row["incident_key"], "tactics": tactics, "stage": taxonomy.stage(tactics),
            "category": cat, "subcategory": sub, "severity": severity, "grade": grade, "grade_reason": reason,
            "system_name": system.name if system else None,
            "protection_level": system.level if system else None,
            "system_prefecture": system.prefecture if system else None,
        })
    described = pl.DataFrame(rows, schema={
        "incident_key": pl.String, "tactics": pl.List(pl.String), "stage": pl.String, "category": pl.String,
        "subcategory": pl.String, "severity": pl.String, "grade": pl.String, "grade_reason": pl.String,
        "system_name": pl.String, "protection_level": pl.Int8, "system_prefecture": pl.String})
    out = built.join(described, on="incident_key", how="left")
    # the inventory says where a system is; the log's folder only says where the log was collected
    return out.with_columns(pl.coalesce("system_prefecture", "prefecture").alias("prefecture"))


def _grade(success: bool, system: Any) -> tuple[str, str]:
    """一般 where logs show an attempt that did not get through; 待研判 where they cannot settle it.

    The national grades turn on the importance of the system, the loss and the social impact;
    logs show none of the last two, so an incident with signs of success is left to a person.
    """
    if success:
        level = f"第{system.level}级系统" if system else "未登记系统"
        return taxonomy.UNDETERMINED, f"有攻击成功迹象({level}),损失和社会影响需人工研判"
    return "一般", "仅见攻击尝试,日志中无成功迹象,未造成可见损失"


def _carry_over(built: pl.DataFrame, previous: pl.DataFrame | None, now: dt.datetime) -> pl.DataFrame:
    """Keep ids, statuses and notes of incidents written before that these continue."""
    table = schema(INCIDENTS)
    built = built.with_columns(pl.lit(now, dtype=UTC_TS).alias("created_at"),
                               pl.lit(now, dtype=UTC_TS).alias("updated_at"),
                               pl.lit("new").alias("status"), pl.lit(None, dtype=pl.String).alias("notes"))
    if previous is not None and previous.height and built.height:
        keys = ["actor", "system", "target"]
        # an incident written when an IPv6 actor was its address continues as its /64's
        previous = previous.with_columns(networks(previous["actor"]).alias("actor"))
        prev = previous.select(*keys, pl.col("incident_id").alias("__old"), pl.col("first_ts").alias("__f"),
                               pl.col("last_ts").alias("__l"), pl.col("alerts").alias("__alerts"),
                               pl.col("status").alias("__status"), pl.col("notes").alias("__notes"),
                               pl.col("created_at").alias("__created"), pl.col("updated_at").alias("__updated"))
        continued = (built.select("incident_key", *keys, "first_ts", "last_ts")
                     .join(prev, on=keys, nulls_equal=True)
                     .filter((pl.col("__f") <= pl.col("last_ts")) & (pl.col("__l") >= pl.col("first_ts")))
                     .sort("__f"))
        match = continued.unique("incident_key", keep="first").unique("__old", keep="first")
        # two incidents written before that one now continues (a later alert bridged the gap between
        # them, or one actor's addresses now one /64) keep the notes a responder gave either
        notes = (continued.unique("__old", keep="first").group_by("incident_key")
                 .agg(pl.col("__notes").sort_by("__f").drop_nulls().str.join("\n").alias("__all_notes")))
        match = match.join(notes, on="incident_key", how="left").with_columns(
            pl.when(pl.col("__all_notes") != "").then(pl.col("__all_notes")).alias("__notes")).drop("__all_notes")
        built = built.join(match.drop(*keys, "first_ts", "last_ts"), on="incident_key", how="left")
        grew = pl.col("alerts") != pl.col("__alerts")
        built = built.with_columns(
            pl.coalesce("__old", "incident_id").alias("incident_id"),
            pl.when(pl.col("__old").is_null()).then(pl.lit("new"))
            .when(~pl.col("__status").is_in(AUTO_STATUSES)).then(pl.col("__status"))
            .when(grew).then(pl.lit("updated")).otherwise(pl.lit("seen")).alias("status"),
            pl.col("__notes").alias("notes"),
            pl.coalesce("__created", "created_at").alias("created_at"),
            pl.when(grew | pl.col("__old").is_null()).then(pl.col("updated_at")).otherwise(pl.col("__updated"))
            .alias("updated_at"),
        )
    out = built.select([pl.col(c).cast(t) if c in built.columns else pl.lit(None, dtype=t).alias(c)
                        for c, t in table.items()])
    return out.sort("first_ts", "incident_id")


def add_note(store: str | Path | Store, incident_id: str, text: str | None,
             status: str | None = None) -> dict[str, Any]:
    """Append a responder's note (and set a status) on one incident; kept across reruns."""
    store = store if isinstance(store, Store) else Store(store)
    if not store.exists(INCIDENTS):
        raise SecawareError(f"{store.root}: no incidents yet; run `secaware incidents` first")
    table = store.scan(INCIDENTS).collect()
    if incident_id not in set(table["incident_id"]):
        raise SecawareError(f"no incident {incident_id!r} in {store.root} (ids look like INC-1A2B3C4D5E6F)")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    me = pl.col("incident_id") == incident_id
    updates = []
    if text:
        line = f"[{stamp}] {text}"
        updates.append(pl.when(me).then(pl.concat_str([pl.col("notes"), pl.lit(line)], separator="\n",
                                                      ignore_nulls=True)).otherwise(pl.col("notes")).alias("notes"))
    if status:
        updates.append(pl.when(me).then(pl.lit(status)).otherwise(pl.col("status")).alias("status"))
    table = table.with_columns(updates) if updates else table
    store.replace(INCIDENTS, table)
    return table.filter(me).row(0, named=True)
