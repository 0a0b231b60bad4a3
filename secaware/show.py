"""`secaware show`: everything about one alert or incident, down to the raw log lines.

A finding is only trusted once someone has read the lines behind it; these functions gather the
finding, its rule and the raw lines (file:line) so the terminal shows them in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from secaware.addresses import address_matches
from secaware.errors import SecawareError
from secaware.schema import ALERTS, EVENTS, INCIDENTS
from secaware.store import Store

RAW_LINES = 20
_LINE_COLUMNS = ("event_id", "ts", "file", "line_no", "raw")


@dataclass
class Finding:
    kind: str  # alert or incident
    record: dict[str, Any]
    alerts: pl.DataFrame | None = None
    lines: pl.DataFrame = field(default_factory=pl.DataFrame)
    more_lines: int = 0


def _store(store: str | Path | Store, table: str) -> Store:
    store = store if isinstance(store, Store) else Store(store)
    if not store.exists(table):
        raise SecawareError(f"{store.root}: no {table} table yet")
    return store


def show_alert(store: str | Path | Store, alert_id: str, *, lines: int = RAW_LINES) -> Finding:
    """One alert; for a correlation also the group's matching lines in its window."""
    store = _store(store, ALERTS)
    rows = store.scan(ALERTS).filter(pl.col("alert_id") == alert_id).collect()
    if rows.height == 0:
        raise SecawareError(f"no alert {alert_id!r} in {store.root} (ids are in the alerts table's alert_id)")
    record = rows.row(0, named=True)
    events = store.scan(EVENTS)
    if record["kind"] == "correlation":
        from secaware.detect.correlate import group_parts  # pySigma: only when needed
        from secaware.detect.rules import NETWORK_FIELDS

        scope = pl.col("ts").is_between(record["first_ts"], record["last_ts"])
        for name, value in group_parts(record["group_key"]):
            if name in NETWORK_FIELDS and value:  # a source's network: the lines of its addresses
                scope = scope & address_matches(pl.col(NETWORK_FIELDS[name]), value)
            elif name in events.collect_schema() and value:
                scope = scope & (pl.col(name).cast(pl.String) == value)
        picked = events.filter(scope).select(_LINE_COLUMNS).sort("ts")
    else:
        picked = events.filter(pl.col("event_id") == record["event_id"]).select(_LINE_COLUMNS)
    total = int(picked.select(pl.len()).collect().item())
    return Finding("alert", record, lines=picked.head(lines).collect(), more_lines=max(0, total - lines))


def show_incident(store: str | Path | Store, incident_id: str, *, lines: int = RAW_LINES) -> Finding:
    """One incident, its alerts by time, and the raw lines behind them."""
    store = _store(store, INCIDENTS)
    rows = store.scan(INCIDENTS).filter(pl.col("incident_id") == incident_id).collect()
    if rows.height == 0:
        raise SecawareError(f"no incident {incident_id!r} in {store.root} (ids look like INC-1A2B3C4D5E6F)")
    record = rows.row(0, named=True)
    ids = list(record["alert_ids"] or [])
    alerts = (store.scan(ALERTS).filter(pl.col("alert_id").is_in(ids))
              .select("alert_id", "ts", "level", "rule_title", "kind", "group_key", "count", "event_id", "file",
                      "line_no").sort("ts").collect())
    # single-event alerts' lines, and for correlations the line that met the condition
    event_ids = alerts["event_id"].drop_nulls().unique().implode()
    picked = store.scan(EVENTS).filter(pl.col("event_id").is_in(event_ids)).select(_LINE_COLUMNS).sort("ts")
    total = int(picked.select(pl.len()).collect().item())
    return Finding("incident", record, alerts=alerts, lines=picked.head(lines).collect(),
                   more_lines=max(0, total - lines))
