"""Report at province scale: 30 days, 14 prefectures, 1 million alerts, 10,000 incidents.

Builds a synthetic store (cached under /tmp/secaware-bench/report-store), renders the report and
prints the wall time, peak RSS, page count and the largest page. Target: under a minute, no page
larger than a few MB.

    python benchmarks/bench_report.py [--alerts 1000000] [--incidents 10000] [--events 2000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from secaware.inventory import load_inventory
from secaware.report import report
from secaware.resources import bundled
from secaware.schema import ALERTS, EVENTS, INCIDENTS, conform
from secaware.store import Store

CACHE = Path("/tmp/secaware-bench/report-store")
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
DAYS = 30
RULES = [("web-sqli", "SQL injection", "high", ["attack.initial-access", "attack.t1190"]),
         ("web-xss", "Cross-site scripting", "medium", ["attack.initial-access", "attack.t1190"]),
         ("web-scan", "Scanner user agent", "low", ["attack.reconnaissance", "attack.t1595"]),
         ("ssh-brute", "SSH brute force", "high", ["attack.credential-access", "attack.t1110"]),
         ("webshell", "Web shell access", "critical", ["attack.persistence", "attack.t1505.003"])]


def build(store: Store, n_events: int, n_alerts: int, n_incidents: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    inv = load_inventory(bundled("sample_logs") / "inventory.yaml")
    systems = inv.systems
    base = inv.base
    span = DAYS * 86400
    # events: enough that every system logs, in batches of 1M
    for b in range(0, n_events, 1_000_000):
        n = min(1_000_000, n_events - b)
        sys_idx = rng.integers(0, len(systems), n)
        files = [str(base / systems[i].logs[0].replace("**", "access.log")) for i in range(len(systems))]
        frame = pl.DataFrame({
            "event_id": np.arange(b, b + n, dtype=np.int64), "batch_id": np.full(n, b // 1_000_000, dtype=np.int64),
            "ts": pl.Series((np.datetime64(START.replace(tzinfo=None)) + rng.integers(0, span, n)
                             .astype("timedelta64[s]")).astype("datetime64[us]")).dt.replace_time_zone("UTC"),
            "source": ["combined"] * n, "file": pl.Series(files).gather(sys_idx),
            "prefecture": pl.Series([s.prefecture for s in systems]).gather(sys_idx),
            "host": pl.Series([s.names[0] if s.names else None for s in systems]).gather(sys_idx),
            "src_ip": [f"203.0.{k % 250}.{k % 200}" for k in range(n)],
            "raw": [f'203.0.113.{k % 250} - - "GET /index.php?id={k} HTTP/1.1" 200 512' for k in range(n)],
            "line_no": np.arange(1, n + 1, dtype=np.int64),
        })
        store.append(EVENTS, conform(frame, EVENTS).collect(), app_id="bench", batch_id=b // 1_000_000)
    # incidents, each with its alerts
    per = max(1, n_alerts // n_incidents)
    inc_sys = rng.integers(0, len(systems), n_incidents)
    inc_rule = rng.integers(0, len(RULES), n_incidents)
    starts = rng.integers(0, span - 7200, n_incidents)
    alert_rows = n_incidents * per
    owner = np.repeat(np.arange(n_incidents), per)
    ts = (np.datetime64(START.replace(tzinfo=None)) + (starts[owner] + rng.integers(0, 3600, alert_rows))
          .astype("timedelta64[s]")).astype("datetime64[us]")
    rule = inc_rule[owner]
    alerts = pl.DataFrame({
        "alert_id": [f"a{i:08x}" for i in range(alert_rows)],
        "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
        "rule_id": pl.Series([r[0] for r in RULES]).gather(rule),
        "rule_title": pl.Series([r[1] for r in RULES]).gather(rule),
        "level": pl.Series([r[2] for r in RULES]).gather(rule),
        "tags": pl.Series([r[3] for r in RULES]).gather(rule),
        "src_ip": [f"45.{i % 200}.{(i // 200) % 250}.{i % 97}" for i in owner],
        "prefecture": pl.Series([s.prefecture for s in systems]).gather(inc_sys[owner]),
        "file": pl.Series([str(base / s.logs[0].replace("**", "access.log")) for s in systems]).gather(inc_sys[owner]),
        "event_id": rng.integers(0, n_events, alert_rows), "line_no": rng.integers(1, 100000, alert_rows),
        "kind": ["event"] * alert_rows, "count": np.ones(alert_rows, dtype=np.int64),
        "suppressed": [False] * alert_rows,
    })
    alerts = alerts.with_columns(pl.col("ts").alias("first_ts"), pl.col("ts").alias("last_ts"))
    for k in range(0, alerts.height, 500_000):
        store.append(ALERTS, conform(alerts.slice(k, 500_000), ALERTS).collect(), app_id="bench", batch_id=k)
    firsts = alerts.group_by(pl.Series("inc", owner)).agg(pl.col("ts").min().alias("first_ts"),
                                                          pl.col("ts").max().alias("last_ts"),
                                                          pl.col("alert_id").head(1000).alias("alert_ids")).sort("inc")
    sev = ["high", "medium", "low", "high", "critical"]
    sub = ["漏洞利用事件", "漏洞利用事件", "网络扫描探测事件", "口令暴力破解事件", "后门利用事件"]
    incidents = pl.DataFrame({
        "incident_id": [f"INC-{i:012X}" for i in range(n_incidents)],
        "actor": [f"45.{i % 200}.{(i // 200) % 250}.{i % 97}" for i in range(n_incidents)],
        "system": pl.Series([s.id for s in systems]).gather(inc_sys),
        "system_name": pl.Series([s.name for s in systems]).gather(inc_sys),
        "prefecture": pl.Series([s.prefecture for s in systems]).gather(inc_sys),
        "protection_level": pl.Series([s.level for s in systems], dtype=pl.Int8).gather(inc_sys),
        "alerts": np.full(n_incidents, per, dtype=np.int64), "events": np.full(n_incidents, per, dtype=np.int64),
        "severity": pl.Series(sev).gather(inc_rule), "subcategory": pl.Series(sub).gather(inc_rule),
        "category": ["网络攻击事件"] * n_incidents, "grade": ["一般"] * n_incidents, "status": ["new"] * n_incidents,
        "grade_reason": ["仅见攻击尝试"] * n_incidents, "success": [False] * n_incidents,
    }).with_columns(firsts.select("first_ts", "last_ts", "alert_ids"))
    store.replace(INCIDENTS, conform(incidents, INCIDENTS).collect())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    marker = CACHE / f".built-{args.events}-{args.alerts}-{args.incidents}"
    if args.rebuild or not marker.exists():
        shutil.rmtree(CACHE, ignore_errors=True)
        t = time.monotonic()
        build(Store(CACHE), args.events, args.alerts, args.incidents)
        marker.touch()
        print(f"built the store in {time.monotonic() - t:.1f}s", file=sys.stderr)
    out = CACHE.parent / "report-out"
    rss_before = peak_rss_mb()
    t = time.monotonic()
    result = report(CACHE, out, inventory=bundled("sample_logs") / "inventory.yaml")
    took = time.monotonic() - t
    sizes = sorted(p.stat().st_size for p in out.glob("*.html"))
    print(f"report over {DAYS} days, 14 prefectures: {args.alerts:,} alerts, {args.incidents:,} incidents, "
          f"{args.events:,} events")
    print(f"  wall time      {took:8.1f} s   (target < 60 s)")
    print(f"  pages          {result.pages:8,d}   total {sum(sizes) / 1e6:.1f} MB")
    print(f"  largest page   {sizes[-1] / 1e3:8.0f} kB   median {sizes[len(sizes) // 2] / 1e3:.0f} kB")
    print(f"  index.html     {(out / 'index.html').stat().st_size / 1e3:8.0f} kB")
    print(f"  peak RSS       {peak_rss_mb():8.0f} MB   (before rendering {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
