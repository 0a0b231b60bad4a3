#!/usr/bin/env python3
"""The nightly job at province scale: `secaware run` over one generated day of all 14 prefectures.

Generates (once, cached under /tmp/secaware-bench/run-logs-<scale>) a day of logs with the sample
generator scaled up to at least 5 million lines across formats (web, auth, firewall, IDS), then
runs `secaware run` in a child process on an empty store and prints the wall time of each stage,
the child's peak RSS, the time of a second run with nothing new, and query latency: a point lookup
by IP and a day's aggregate over the events. Targets: the whole night under 30 s, peak RSS under
2 GB, a run with nothing new under 5 s.

    python benchmarks/bench_run.py [--scale 560] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CACHE = Path("/tmp/secaware-bench")
TARGET_NIGHT_S = 30.0
TARGET_RSS_MB = 2048
TARGET_NOTHING_NEW_S = 5.0


def generate(scale: float) -> tuple[Path, int, int]:
    """The day's logs (cached): folder, lines, bytes."""
    out = CACHE / f"run-logs-{scale:g}"
    marker = out / ".complete"
    if not marker.exists():
        shutil.rmtree(out, ignore_errors=True)
        from secaware.samples import generate as make

        t = time.monotonic()
        make(out, days=1, scale=scale)
        marker.write_text("")
        print(f"generated logs in {time.monotonic() - t:.0f}s", file=sys.stderr)
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix not in (".md", ".yaml", ".csv") and
             not p.name.startswith(".")]
    lines = 0
    for p in files:
        with p.open("rb") as f:
            lines += sum(chunk.count(b"\n") for chunk in iter(lambda f=f: f.read(1 << 24), b""))
    return out, lines, sum(p.stat().st_size for p in files)


def run_child(args: list[str]) -> tuple[float, float, dict[str, Any]]:
    """Wall seconds, peak RSS (MB) of the child, and its JSON summary."""
    t = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        raise SystemExit(f"secaware run failed ({code}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, json.loads(out)


def query_latency(store: Path) -> dict[str, float]:
    import polars as pl

    from secaware.sql import query

    ip = query(store, "SELECT src_ip FROM events WHERE src_ip IS NOT NULL LIMIT 1")["src_ip"][0]
    day = query(store, "SELECT min(ts) AS d FROM events")["d"][0]
    out = {}
    t = time.monotonic()
    query(store, f"SELECT ts, file, line_no, raw FROM events WHERE src_ip = '{ip}'")
    out["point lookup by ip"] = time.monotonic() - t
    t = time.monotonic()
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    query(store, "SELECT source, prefecture, count(*) AS n, sum(bytes) AS b FROM events "
                 f"WHERE ts >= '{start:%Y-%m-%d %H:%M:%S}' GROUP BY source, prefecture ORDER BY n DESC")
    out["day aggregate by source and prefecture"] = time.monotonic() - t
    assert isinstance(pl.__version__, str)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=560.0, help="sample generator scale (560: about 5M lines/day)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logs, lines, size = generate(args.scale)
    work = CACHE / "run-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cmd = [sys.executable, "-c", "from secaware.cli import main; main()", "run", "--store", str(work / "store"),
           "--collect", str(logs),
           "--inventory", str(logs / "inventory.yaml"), "--report-dir", str(work / "report"), "--settle", "0",
           "--json"]
    wall, rss, summary = run_child(cmd)
    wall2, rss2, _ = run_child(cmd)
    latency = query_latency(work / "store")
    result = {
        "lines": lines, "mb": round(size / 1e6, 1), "night_s": round(wall, 1), "peak_rss_mb": round(rss),
        "stages": {s["name"]: round(s["seconds"], 1) for s in summary["stages"]},
        "nothing_new_s": round(wall2, 1), "nothing_new_rss_mb": round(rss2),
        "query_s": {k: round(v, 2) for k, v in latency.items()},
        "found": {s["name"]: {k: v for k, v in s.items() if k not in ("name", "seconds", "error")}
                  for s in summary["stages"]},
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return
    print(f"secaware run over one day, 14 prefectures: {lines:,} lines, {size / 1e6:,.0f} MB "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for name, secs in result["stages"].items():
        print(f"  {name:12} {secs:7.1f} s")
    print(f"  {'whole night':12} {wall:7.1f} s   ({lines / wall:,.0f} lines/s; target < {TARGET_NIGHT_S:.0f} s)")
    print(f"  peak RSS     {rss:7.0f} MB  (target < {TARGET_RSS_MB} MB)")
    print(f"  nothing new  {wall2:7.1f} s   (target < {TARGET_NOTHING_NEW_S:.0f} s)")
    for k, v in latency.items():
        print(f"  query: {k}: {v * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
