#!/usr/bin/env python3
"""Detection throughput benchmark: `secaware.detect.engine.match` against pySigma's SQLite backend (Zircolite's engine).

Builds (once, cached in the work directory by size, seed and generator version) a table of web
events: nginx `combined` lines of a government portal (bench_ingest's generator), the Elastic
Apache access logs and the sample logs' access logs repeated, and about 1.5% lines built from
the rules' own values to trigger them (tests/sigma_events.py), shuffled, parsed by secaware's
combined parser and written as Parquet. Then, each in a child process:

- ours: the SigmaHQ webserver rules plus the rule pack in rules/ through `match()` (mapping,
  decoding, every rule shape), streaming the events in chunks of --chunk rows as `secaware detect`
  does (`match_each`: two chunks matched at once, the next read meanwhile), so memory stays bounded
  by a few chunks and their hits, reading only the columns `secaware detect` reads (those the rules
  and alerts use); its time is the wall time of the whole stream, reading included, and of keeping
  the rows the pack's correlation rules count. The correlation rules then run over those rows as
  `secaware detect` runs them, timed apart (SQLite has nothing to compare them with) and printed
  with the whole engine's figure, single-event and correlation rules together;
- sqlite: the same rules converted by pySigma's SQLite backend, each query run over the first
  --sqlite-events events in an in-memory table (columns named as the rules name them, text
  `COLLATE NOCASE`, as Zircolite builds it). Loading the table is timed apart and not counted.

Prints events x rules per second for both, the ratio, wall time and each child's peak RSS.
Generation is never timed; nothing generated belongs in git.

    PYTHONPATH=. python benchmarks/bench_detect.py                   # 5M events, SQLite on 1M
    python benchmarks/bench_detect.py --events 1000000 --sqlite-events 200000 --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

GEN_VERSION = 2  # 2: trigger lines of the rule pack too
SHARED = Path(os.environ.get("SECAWARE_SHARED", REPO.parent / "shared"))
#: Zircolite 3.7 applied 50 rules to 1M JSON events in about 32 s on this machine.
ZIRCOLITE_EVENTS_RULES_PER_S = 50 * 1_000_000 / 32
TARGET_VS_ZIRCOLITE = 50.0
TRIGGER_RATE = 0.015
PARSE_BATCH = 500_000


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry over the
    parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rule_paths(pack: bool | None = None) -> list[Path]:
    """The SigmaHQ webserver rules and every rule file of the shipped pack (rules/), unless pack is false
    (default: the environment's SECAWARE_BENCH_PACK, 1)."""
    if pack is None:
        pack = os.environ.get("SECAWARE_BENCH_PACK", "1") != "0"
    web = [p for p in sorted((SHARED / "sigmahq").rglob("*.yml")) if "category: webserver" in p.read_text("utf-8")]
    shipped = sorted(p for p in (REPO / "rules").rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    return web + (shipped if pack else [])


# --------------------------------------------------------------------------------------------
# The events (generated once, cached)
# --------------------------------------------------------------------------------------------


def build_events(path: Path, n: int, seed: int, chunk: int) -> None:
    """n parsed web events in a Parquet file, row groups of `chunk` rows."""
    from bench_ingest import generate_web
    from sigma.collection import SigmaCollection

    from secaware.ingest._common import FileContext
    from secaware.ingest.formats import FORMATS
    from secaware.ingest.reader import LINES_SCHEMA
    from secaware.schema import EVENTS, conform
    from tests.sigma_events import trigger_lines

    n_trigger = int(n * TRIGGER_RATE)
    elastic = (SHARED / "datasets" / "elastic_apache_logs" / "apache_logs_17-18may").read_text("utf-8").splitlines()
    samples = [line for log in sorted((REPO / "sample_logs").rglob("access.log*"))
               for line in log.read_text("utf-8").splitlines()]
    n_elastic, n_samples = n // 10, n // 10
    n_gov = n - n_trigger - n_elastic - n_samples
    gov = path.with_name(f"gov-{n_gov}-s{seed}.log")
    if not gov.exists():
        say(f"generating {n_gov:,} portal lines (bench_ingest's generator)")
        generate_web(gov, n_gov, seed)
    rules = SigmaCollection.load_ruleset([str(p) for p in rule_paths(pack=True)], collect_errors=True).rules
    triggers = trigger_lines([r for r in rules if not r.errors], seed=seed)

    def repeat(lines: list[str], k: int) -> list[str]:
        return (lines * (k // max(len(lines), 1) + 1))[:k]

    lines = pl.concat([
        pl.read_csv(gov, has_header=False, separator="\x1f", quote_char=None, new_columns=["raw"],
                    schema_overrides={"raw": pl.String})["raw"],
        pl.Series("raw", repeat(elastic, n_elastic)), pl.Series("raw", repeat(samples, n_samples)),
        pl.Series("raw", repeat(triggers, n_trigger)),
    ]).shuffle(seed=seed)
    say(f"parsing {lines.len():,} lines ({n_trigger:,} built from {len(rules)} rules' values)")
    tmp = path.with_suffix(".tmp")
    writer = None
    import pyarrow.parquet as pq

    try:
        for start in range(0, lines.len(), PARSE_BATCH):
            part = lines.slice(start, PARSE_BATCH)
            frame = pl.DataFrame({"raw": part, "line_no": pl.int_range(start + 1, start + part.len() + 1,
                                                                        eager=True, dtype=pl.Int64),
                                  "warning": pl.repeat(None, part.len(), dtype=pl.String, eager=True)},
                                 schema=LINES_SCHEMA)
            ctx = FileContext(path="/logs/620100-lanzhou/access.log", format="combined", prefecture="620100")
            ctx.chunk_text = "\n".join(part.to_list()).encode()
            parsed = FORMATS["combined"].parse(frame, ctx)
            events = conform(parsed.filter(pl.col("_reject").is_null()), EVENTS).collect().to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(tmp, events.schema)
            writer.write_table(events, row_group_size=chunk)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)


# --------------------------------------------------------------------------------------------
# The two engines, each in its own process
# --------------------------------------------------------------------------------------------


def child_ours(data: Path, chunk: int) -> dict[str, Any]:
    from secaware.detect.engine import match, match_each
    from secaware.detect.pipeline import _base_rules, _tag, columns_read, correlate_all
    from secaware.detect.rules import compile_rules

    start = time.perf_counter()
    compiled = compile_rules(rule_paths())
    compile_s = time.perf_counter() - start
    rules = compiled.rules
    match(pl.scan_parquet(data).head(1000).collect(), rules)  # warm up: imports, regex caches
    total = pl.scan_parquet(data).select(pl.len()).collect().item()

    read_s = 0.0
    columns = columns_read(compiled)  # as `secaware detect` reads the store: what rules and alerts use

    def chunks() -> Any:
        nonlocal read_s
        for offset in range(0, total, chunk):
            t = time.perf_counter()
            frame = pl.scan_parquet(data).select(columns).slice(offset, chunk).collect()
            read_s += time.perf_counter() - t
            yield frame

    events = hits = 0
    base, tags, tag_s = _base_rules(compiled), {}, 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    # as `secaware detect` runs it: two chunks matched at once, the next read meanwhile, and the
    # hits of the rules correlations count kept (the rows correlations read)
    for frame, found in match_each(chunks(), rules):
        events += frame.height
        hits += found.height
        t = time.perf_counter()
        for rule, rows in _tag(frame, found.filter(pl.col("rule").is_in(base)), compiled).items():
            tags.setdefault(rule, []).append(rows)
        tag_s += time.perf_counter() - t
        del frame, found
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # then the correlation rules over those rows, as `secaware detect` runs them after the chunks
    corr_wall, corr_cpu = time.perf_counter(), time.process_time()
    merged = {rule: pl.concat(parts, how="diagonal_relaxed") for rule, parts in tags.items()}
    tagged_n = sum(rows.height for rows in merged.values())
    episodes = sum(found_episodes.height for _, found_episodes in correlate_all(merged, compiled))
    corr_wall, corr_cpu = time.perf_counter() - corr_wall, time.process_time() - corr_cpu
    return {"engine": "secaware match()", "events": events, "rules": len(rules), "failed": len(compiled.failed),
            "hits": hits, "seconds": wall, "cpu_seconds": cpu, "wall_seconds": wall,
            "compile_seconds": compile_s, "read_seconds": read_s, "tag_seconds": tag_s,
            "correlations": len(compiled.correlations), "tagged_rows": tagged_n, "episodes": episodes,
            "correlation_seconds": corr_wall, "correlation_cpu_seconds": corr_cpu, "peak_rss_mb": peak_rss_mb()}


def child_sqlite(data: Path, n: int) -> dict[str, Any]:
    from sigma.collection import SigmaCollection

    from secaware.detect.rules import compile_rules
    from tests.sigma_events import sigma_names, sqlite_backend, sqlite_events, sqlite_query

    ours = {r.rule_id for r in compile_rules(rule_paths()).rules}
    backend = sqlite_backend()
    queries, failed, fields = [], 0, {"raw"}
    for rule in SigmaCollection.load_ruleset([str(p) for p in rule_paths()], collect_errors=True).rules:
        if str(rule.id) not in ours:
            continue
        try:
            queries.append(sqlite_query(rule, backend))
            fields.update(backend.required_fields(rule))
        except Exception:
            failed += 1
    events = pl.scan_parquet(data).head(n).collect()
    names = {k: v for k, v in sigma_names().items() if k in fields}  # only the columns the queries read
    t = time.perf_counter()
    connection = sqlite_events(events, names=names)
    load_s = time.perf_counter() - t
    del events
    hits = 0
    t, c = time.perf_counter(), time.process_time()
    for query in queries:
        hits += len(connection.execute(query).fetchall())
    seconds, cpu_s = time.perf_counter() - t, time.process_time() - c
    return {"engine": "pySigma SQLite backend", "events": n, "rules": len(queries), "failed": failed, "hits": hits,
            "seconds": seconds, "cpu_seconds": cpu_s, "wall_seconds": seconds, "load_seconds": load_s,
            "peak_rss_mb": peak_rss_mb()}


def run_child(*args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=5_000_000, help="web events (default 5M)")
    ap.add_argument("--chunk", type=int, default=500_000, help="rows per match() call (default 500k)")
    ap.add_argument("--sqlite-events", type=int, default=1_000_000,
                    help="events the SQLite backend is run on (default 1M; 0 to skip)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/secaware-bench"))
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--no-pack", action="store_true", help="the SigmaHQ webserver rules only, not rules/")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        kind, data, number = args.child[0], Path(args.child[1]), int(args.child[2])
        print(json.dumps(child_ours(data, number) if kind == "ours" else child_sqlite(data, number)))
        return 0

    if args.no_pack:
        os.environ["SECAWARE_BENCH_PACK"] = "0"  # children inherit it
    data = args.workdir.absolute() / "detect" / f"events-{args.events}-s{args.seed}-v{GEN_VERSION}.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        t = time.perf_counter()
        build_events(data, args.events, args.seed, args.chunk)
        say(f"  built in {time.perf_counter() - t:.0f}s: {data}")
    results = []
    say(f"[ours] match() over {args.events:,} events in chunks of {args.chunk:,}")
    results.append(run_child("ours", str(data), str(args.chunk)))
    if args.sqlite_events:
        n = min(args.sqlite_events, args.events)
        say(f"[sqlite] pySigma SQLite backend over {n:,} events")
        results.append(run_child("sqlite", str(data), str(n)))
    for r in results:
        r["events_rules_per_s"] = r["events"] * r["rules"] / r["seconds"]
    ours = results[0]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    target = TARGET_VS_ZIRCOLITE * ZIRCOLITE_EVENTS_RULES_PER_S
    summary = {
        "when": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, {os.uname().machine}", "polars": pl.__version__, "load_after": load,
        "target_events_rules_per_s": target, "target_met": ours["events_rules_per_s"] >= target,
        "ratio_vs_sqlite": ours["events_rules_per_s"] / results[1]["events_rules_per_s"] if len(results) > 1 else None,
        "ratio_vs_zircolite_reference": ours["events_rules_per_s"] / ZIRCOLITE_EVENTS_RULES_PER_S,
    }
    out = {"summary": summary, "results": results}
    (args.workdir / f"detect-results-{dt.datetime.now():%Y%m%dT%H%M%S}.json").write_text(json.dumps(out, indent=1))
    if args.json:
        print(json.dumps(out, indent=1))
        return 0 if summary["target_met"] else 1
    print(f"{'engine':<24} {'events':>10} {'rules':>6} {'seconds':>8} {'cpu s':>7} {'events x rules/s':>17} "
          f"{'peak RSS':>9}")
    for r in results:
        print(f"{r['engine']:<24} {r['events']:>10,} {r['rules']:>6} {r['seconds']:>8.2f} {r['cpu_seconds']:>7.2f} "
              f"{r['events_rules_per_s'] / 1e6:>15.1f} M {r['peak_rss_mb']:>6.0f} MB")
    print(f"ours: {ours['hits']:,} hits, wall {ours['wall_seconds']:.2f}s (reading included: "
          f"{ours['read_seconds']:.2f}s spent reading chunks while others were matched; keeping the rows "
          f"correlations count: {ours['tag_seconds']:.2f}s), rules compiled in {ours['compile_seconds']:.2f}s, "
          f"{ours['failed']} rule files not compiled")
    if ours["correlations"]:
        whole = ours["wall_seconds"] + ours["correlation_seconds"]
        print(f"ours, correlation rules: {ours['correlations']} over {ours['tagged_rows']:,} rows, "
              f"{ours['episodes']:,} episodes, {ours['correlation_seconds']:.2f}s "
              f"({ours['correlation_cpu_seconds']:.2f} CPU-s) after the chunks; "
              f"the whole engine, single-event and correlation rules: {whole:.2f}s, "
              f"{ours['events'] * (ours['rules'] + ours['correlations']) / whole / 1e6:.1f} M events x rules/s")
    if len(results) > 1:
        print(f"sqlite: table loaded in {results[1]['load_seconds']:.1f}s (not counted); "
              f"ratio ours / sqlite: {summary['ratio_vs_sqlite']:.1f}x")
    print(f"load average after the runs: {load} (other processes share these {os.cpu_count()} CPUs)")
    print(f"target: >= {target / 1e6:.0f} M events x rules/s (50x Zircolite's 1.56 M): "
          f"{'PASS' if summary['target_met'] else 'FAIL'} ({summary['ratio_vs_zircolite_reference']:.0f}x)")
    return 0 if summary["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
