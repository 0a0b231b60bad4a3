"""`secaware hunt`: one entity's timeline across every table, for the responder's first question.

"What else did this address do?" is answered from events (with file:line), alerts, anomalies and
incidents in one time-ordered list, with counts by kind, so a pivot is one command, not four
queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from secaware.addresses import address_matches, network_of
from secaware.errors import SecawareError
from secaware.inventory import Inventory, attribute, load_inventory
from secaware.schema import ALERTS, EVENTS, INCIDENTS, UTC_TS
from secaware.store import Store

KINDS = ("ip", "user", "host", "system")
TIMELINE = pl.Schema({"ts": UTC_TS, "kind": pl.String(), "summary": pl.String(), "where": pl.String(),
                      "id": pl.String()})


@dataclass
class Hunt:
    entity_type: str
    value: str
    counts: dict[str, int] = field(default_factory=dict)
    timeline: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TIMELINE))
    shown: int = 0

    def as_dict(self) -> dict[str, Any]:
        rows = self.timeline.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")).to_dicts()
        return {"entity_type": self.entity_type, "value": self.value, "counts": self.counts, "timeline": rows}


def hunt(store: str | Path | Store, entity_type: str, value: str, *, since: dt.datetime | None = None,
         until: dt.datetime | None = None, limit: int = 200, inventory: str | Path | Inventory | None = None) -> Hunt:
    """Everything the store knows about one ip, user, host or system, in time order (first `limit` of each kind)."""
    if entity_type not in KINDS:
        raise SecawareError(f"cannot hunt {entity_type!r}: choose one of {', '.join(KINDS)}")
    store = store if isinstance(store, Store) else Store(store)
    if not store.exists(EVENTS):
        raise SecawareError(f"{store.root}: the store has no events yet; run `secaware ingest` first")
    inv = None
    if entity_type == "system":
        inv = inventory if isinstance(inventory, Inventory) else load_inventory(inventory)
        if value not in {s.id for s in inv.systems}:
            raise SecawareError(f"no system {value!r} in {inv.path}")
    result = Hunt(entity_type, value)
    window = pl.lit(True)
    if since is not None:
        window = window & (pl.col("ts") >= since.astimezone(dt.UTC))
    if until is not None:
        window = window & (pl.col("ts") < until.astimezone(dt.UTC))
    parts = []
    for kind, frame in (("event", _events(store, entity_type, value, inv)),
                        ("alert", _alerts(store, entity_type, value, inv)),
                        ("anomaly", _anomalies(store, entity_type, value)),
                        ("incident", _incidents(store, entity_type, value))):
        if frame is None:
            continue
        frame = frame.filter(window)
        result.counts[kind] = int(frame.select(pl.len()).collect().item())
        parts.append(frame.sort("ts").head(limit).collect())
    timeline = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame(schema=TIMELINE)
    result.timeline = timeline.sort("ts", "kind", maintain_order=True)  # up to `limit` of each kind
    result.shown = result.timeline.height
    return result


def _match(entity_type: str, value: str, columns: dict[str, str]) -> pl.Expr:
    """The rows whose column for this entity type holds value (names and hosts case-insensitively)."""
    cols = [c for c in columns.get(entity_type, "").split(",") if c]
    if not cols:
        return pl.lit(False)
    if entity_type == "ip":
        return pl.any_horizontal([address_matches(pl.col(c), value) for c in cols])
    return pl.any_horizontal([(pl.col(c).str.to_lowercase() == value.lower()).fill_null(False) for c in cols])


def _source_match(column: pl.Expr, value: str) -> pl.Expr:
    """column names a source, an address or an IPv6 source's /64 (incidents' actors, behaviour
    anomalies' entities), that value (an address or a range, as address_matches reads it) is or holds."""
    source = column.cast(pl.String)
    first = source.str.replace(r"/64$", "")  # a /64 by its first address, for a range
    return address_matches(first, value) | (source == network_of(value.strip())).fill_null(False)


def _where() -> pl.Expr:
    return pl.concat_str([pl.col("file"), pl.col("line_no").cast(pl.String)], separator=":")


def _events(store: Store, entity_type: str, value: str, inv: Inventory | None) -> pl.LazyFrame:
    events = store.scan(EVENTS)
    if entity_type == "system":
        events = attribute(events, inv).filter(pl.col("system") == value)
    else:
        events = events.filter(_match(entity_type, value, {"ip": "src_ip,dst_ip,nat_src_ip,nat_dst_ip",
                                                           "user": "user", "host": "host"}))
    summary = pl.concat_str([
        pl.col("source"), pl.col("event_action"), pl.col("http_method"),
        pl.concat_str([pl.col("url_path"), pl.lit("?"), pl.col("url_query")]).fill_null(pl.col("url_path")),
        pl.col("http_status").cast(pl.String), pl.concat_str([pl.lit("user="), pl.col("user")]),
        pl.concat_str([pl.col("src_ip"), pl.lit("→"), pl.col("dst_ip"), pl.lit(":"),
                       pl.col("dst_port").cast(pl.String)]),
        pl.col("action"), pl.col("signature"),
    ], separator=" ", ignore_nulls=True)
    return events.select("ts", pl.lit("event").alias("kind"), summary.alias("summary"), _where().alias("where"),
                         pl.col("event_id").cast(pl.String).alias("id"))


def _alerts(store: Store, entity_type: str, value: str, inv: Inventory | None) -> pl.LazyFrame | None:
    if not store.exists(ALERTS):
        return None
    alerts = store.scan(ALERTS)
    if entity_type == "system":
        alerts = attribute(alerts, inv).filter(pl.col("system") == value)
    else:
        alerts = alerts.filter(_match(entity_type, value, {"ip": "src_ip,dst_ip", "user": "user", "host": "host"}))
    summary = pl.concat_str([
        pl.concat_str([pl.lit("["), pl.col("level"), pl.lit("]")]), pl.col("rule_title"),
        pl.concat_str([pl.col("group_key"), pl.lit(" count="), pl.col("count").cast(pl.String)]),
        pl.when(pl.col("suppressed")).then(pl.col("suppressed_by")),
    ], separator=" ", ignore_nulls=True)
    return alerts.select("ts", pl.lit("alert").alias("kind"), summary.alias("summary"), _where().alias("where"),
                         pl.col("alert_id").alias("id"))


def _anomalies(store: Store, entity_type: str, value: str) -> pl.LazyFrame | None:
    if not store.exists("anomalies"):
        return None
    anomalies = store.scan("anomalies")
    have = anomalies.collect_schema()
    if not {"entity", "window_start"} <= set(have):
        return None
    wanted = {"ip": ("ip", "src_ip", "source"), "user": ("user", "account"), "host": ("host",),
              "system": ("system",)}[entity_type]
    entity = (_source_match(pl.col("entity"), value) if entity_type == "ip"
              else (pl.col("entity").cast(pl.String).str.to_lowercase() == value.lower()))
    rows = anomalies.filter(entity & pl.col("entity_type").cast(pl.String).str.to_lowercase().is_in(wanted))
    if "is_anomaly" in have:
        rows = rows.filter(pl.col("is_anomaly").fill_null(False))
    where = _where() if {"file", "line_no"} <= set(have) else pl.lit(None, dtype=pl.String)
    summary = pl.concat_str([pl.col("kind").cast(pl.String), pl.lit("score"),
                             pl.col("score").round(3).cast(pl.String) if "score" in have else pl.lit(None),
                             pl.col("explanation").cast(pl.String) if "explanation" in have else pl.lit(None)],
                            separator=" ", ignore_nulls=True)
    return rows.select(pl.col("window_start").cast(UTC_TS).alias("ts"), pl.lit("anomaly").alias("kind"),
                       summary.alias("summary"), where.alias("where"), pl.lit(None, dtype=pl.String).alias("id"))


def _incidents(store: Store, entity_type: str, value: str) -> pl.LazyFrame | None:
    if not store.exists(INCIDENTS):
        return None
    incidents = store.scan(INCIDENTS)
    column = {"ip": "actor", "system": "system", "host": "target"}.get(entity_type)
    if column is None:
        return None
    summary = pl.concat_str([
        pl.col("incident_id"), pl.concat_str([pl.lit("["), pl.col("severity"), pl.lit("/"), pl.col("grade"),
                                              pl.lit("]")]),
        pl.col("subcategory"), pl.concat_str([pl.col("actor"), pl.lit("→"), pl.coalesce("system", "target")]),
        pl.concat_str([pl.col("alerts").cast(pl.String), pl.lit(" alerts")]), pl.col("status"),
    ], separator=" ", ignore_nulls=True)
    if entity_type == "ip":
        found = _source_match(pl.col(column), value)
    else:
        found = (pl.col(column).str.to_lowercase() == value.lower()).fill_null(False)
    rows = incidents.filter(found)
    return rows.select(pl.col("first_ts").alias("ts"), pl.lit("incident").alias("kind"), summary.alias("summary"),
                       pl.lit(None, dtype=pl.String).alias("where"), pl.col("incident_id").alias("id"))
