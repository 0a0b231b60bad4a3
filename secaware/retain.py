"""`secaware retain`: remove data older than the retention period from every table, for real.

The Cybersecurity Law asks for network logs to be kept at least six months, so fewer than 183
days is refused unless forced. Deleting rows in Delta only hides them; the files stay until a
vacuum, so retain vacuums too, or the disk (and whatever a leaked copy holds) never shrinks.
The ingest log is kept whole: it is how secaware knows which files it has read, and dropping it
would read old files again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import DeltaTable

from secaware.errors import SecawareError
from secaware.schema import ALERTS, EVENTS, INCIDENTS, INGEST_LOG, REJECTS
from secaware.store import Store

LEGAL_MINIMUM_DAYS = 183
#: table -> the time column that dates a row
DATED: dict[str, str] = {EVENTS: "ts", ALERTS: "ts", INCIDENTS: "last_ts", "anomalies": "window_end",
                         "compliance": "period_end"}


@dataclass
class RetainReport:
    store: str
    cutoff: str
    deleted: dict[str, int] = field(default_factory=dict)
    files_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def retain(store: str | Path | Store, keep_days: int, *, force: bool = False,
           now: dt.datetime | None = None) -> RetainReport:
    """Delete rows older than keep_days in every dated table (rejects by their batch's date), then vacuum."""
    if keep_days < 1:
        raise SecawareError("--keep must be at least 1 day")
    if keep_days < LEGAL_MINIMUM_DAYS and not force:
        raise SecawareError(f"--keep {keep_days} is less than the six months (183 days) the Cybersecurity Law "
                            f"requires network logs to be kept; use --force if you really mean it")
    store = store if isinstance(store, Store) else Store(store)
    if not store.root.is_dir():
        raise SecawareError(f"{store.root}: no such store")
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=keep_days)
    stamp = cutoff.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    report = RetainReport(str(store.root), cutoff.isoformat(timespec="seconds"))
    for table, column in DATED.items():
        if store.exists(table) and column in store.scan(table).collect_schema():
            report.deleted[table] = store.delete(table, f"{column} < '{stamp}'")
    if store.exists(REJECTS) and store.exists(INGEST_LOG):
        old = (store.scan(INGEST_LOG).group_by("batch_id").agg(pl.col("ingested_at").max())
               .filter(pl.col("ingested_at") < cutoff).select("batch_id").collect()["batch_id"].to_list())
        if old:
            report.deleted[REJECTS] = store.delete(REJECTS, f"batch_id IN ({', '.join(str(int(b)) for b in old)})")
    for table in (*DATED, REJECTS):
        if store.exists(table) and report.deleted.get(table):
            removed = DeltaTable(str(store.path(table))).vacuum(retention_hours=0, dry_run=False,
                                                                enforce_retention_duration=False)
            report.files_removed += len(removed)
    return report
