#!/usr/bin/env python3
"""Anomaly benchmark: what the request and behaviour detectors find, what they cost, and model loading.

1. Request level on CSIC 2010: the normal training requests become nginx lines of one site; 70% are
   the baseline (trained with `secaware models train`), the other 30% are held back and written the
   next day, with attack requests made by putting the shared payload lists into parameters of
   held-back GET requests. `secaware anomalies` scores the next day; printed: detection rate per
   payload class and false-positive rate on the held-back normal lines, and the same for the
   shipped Sigma rules (`secaware detect`) and for rules and anomalies together.
2. Behaviour level: sample logs of the 14 prefectures (`secaware.samples.generate`, 7 days, scale 3)
   plus three planted behaviours the generator does not have (slow scanner, web credential
   stuffing, crawler storm). Days 3-7 are the baseline; the entity windows of days 1-2 are scored:
   per planted scenario, ROC AUC and precision at k (k = the scenario's windows) against every
   normal window of those days (all feature sets pooled: scores are comparable across them), the
   best window's rank among them and within its own feature set.
3. Speed: `secaware models train`, then `secaware anomalies`, each in a child process, over
   5,000,000 web requests (the ingest benchmark's generated day of a portal, about 1.6 million
   source-hour windows): wall time per level and peak RSS.
4. Model loading in a fresh process: imports, load (sha256 check included) and the first score,
   beside stock PyOD HBOS's first score after loading (numba compiles then).

    PYTHONPATH=. python benchmarks/bench_anomaly.py                    # everything (about 10 minutes)
    PYTHONPATH=. python benchmarks/bench_anomaly.py --skip-speed       # quality only (about 2 minutes)

Generated data, stores and models are cached under WORKDIR/anomaly (default /tmp/secaware-bench);
delete them to regenerate. Nothing generated belongs in git.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_ingest  # noqa: E402  (the 5M-line portal log and the child-process runner)

from secaware.anomaly import anomalies, train  # noqa: E402
from secaware.ingest import ingest  # noqa: E402

CST = dt.timezone(dt.timedelta(hours=8))
DATASETS = Path(os.environ.get("SECAWARE_SHARED", REPO.parent / "shared")) / "datasets"
PAYLOADS = {
    "sqli": ["payloadbox-sqli/Intruder/**/*.txt", "PayloadsAllTheThings/SQL Injection/Intruder/*"],
    "xss": ["payloadbox-xss/Intruder/*.txt", "PayloadsAllTheThings/XSS Injection/Intruders/*"],
    "cmdi": ["PayloadsAllTheThings/Command Injection/Intruder/*"],
    "traversal": ["PayloadsAllTheThings/Directory Traversal/Intruder/*"],
    "lfi": ["PayloadsAllTheThings/File Inclusion/Intruders/*"],
    "ssti": ["PayloadsAllTheThings/Server Side Template Injection/Intruder/*"],
    "nosqli": ["PayloadsAllTheThings/NoSQL Injection/Intruder/*"],
    "ldapi": ["PayloadsAllTheThings/LDAP Injection/Intruder/*"],
    "xxe": ["PayloadsAllTheThings/XXE Injection/Intruders/*"],
    "crlf": ["PayloadsAllTheThings/CRLF Injection/Files/*"],
}
PER_CLASS = 2000  # payloads per class at most (the traversal lists alone have 23,000)
ISSUE_SCENARIOS = ("slow_scanner", "credential_stuffing", "data_exfiltration", "crawler_storm", "offhours_login")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def clf(t: dt.datetime) -> str:
    return t.astimezone(CST).strftime("%d/%b/%Y:%H:%M:%S %z")


# ------------------------------------------------------------------------------------ 1. CSIC 2010


def csic_requests() -> list[tuple[str, str, str | None]]:
    out = []
    with gzip.open(DATASETS / "csic2010" / "normalTrafficTraining.txt.gz", "rt", encoding="latin-1") as f:
        for line in f:
            if line.startswith(("GET ", "POST ", "PUT ")):
                method, url, _ = line.split(" ", 2)
                parts = urlsplit(url)
                out.append((method, parts.path, parts.query or None))
    return out


def payloads(rng: random.Random) -> dict[str, list[str]]:
    out = {}
    base = DATASETS / "payloads"
    for name, globs in PAYLOADS.items():
        seen: set[str] = set()
        for pattern in globs:
            for path in sorted(base.glob(pattern)):
                if path.is_file():
                    seen.update(x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip())
        values = sorted(seen)
        rng.shuffle(values)
        out[name] = values[:PER_CLASS]
    return out


CSIC_UA = "Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)"


def csic_line(t: dt.datetime, ip: str, method: str, path: str, query: str | None) -> str:
    # an access log shows the URL only: POST bodies are not logged
    target = path + ("?" + query if query and method == "GET" else "")
    return f'{ip} - - [{clf(t)}] "{method} {target} HTTP/1.1" 200 {1200 + len(target)} "-" "{CSIC_UA}"'


def make_csic(work: Path, seed: int) -> dict[str, Any]:
    """Write the baseline day and the test day (held-back normal + attacks); labels per line."""
    meta_path = work / "csic" / f"meta-s{seed}.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    rng = random.Random(seed)
    rows = csic_requests()
    rng.shuffle(rows)
    cut = int(len(rows) * 0.7)
    train_rows, held = rows[:cut], rows[cut:]
    site = work / "csic" / "logs" / "620100-lanzhou" / "tienda"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    day_a = dt.datetime(2026, 11, 20, tzinfo=CST)
    day_b = day_a + dt.timedelta(days=1)
    ips = [f"118.180.{rng.randint(1, 254)}.{rng.randint(1, 254)}" for _ in range(3000)]
    with (site / "access.log.1").open("w") as f:
        for i, (m, p, q) in enumerate(train_rows):
            f.write(csic_line(day_a + dt.timedelta(seconds=i * 86_000 / len(train_rows)), rng.choice(ips), m, p, q)
                    + "\n")
    gets = [r for r in held if r[0] == "GET" and r[2]]
    attacks = []
    for cls, values in payloads(rng).items():
        for value in values:
            m, p, q = rng.choice(gets)
            params = q.split("&")
            k = rng.randrange(len(params))
            params[k] = params[k].split("=", 1)[0] + "=" + quote(value, safe="")
            attacks.append((cls, m, p, "&".join(params)))
    items = [("normal", *r) for r in held] + attacks
    rng.shuffle(items)
    labels = []
    with (site / "access.log").open("w") as f:
        for i, (cls, m, p, q) in enumerate(items):
            ip = rng.choice(ips) if cls == "normal" else f"45.{rng.randint(64, 95)}.{rng.randint(1, 254)}.{i % 250 + 1}"
            f.write(csic_line(day_b + dt.timedelta(seconds=i * 86_000 / len(items)), ip, m, p, q) + "\n")
            labels.append((i + 1, cls, m == "GET" and bool(q)))
    meta = {"train": len(train_rows), "held": len(held), "attacks": len(attacks), "site": str(site),
            "day_a": day_a.isoformat(), "day_b": day_b.isoformat(), "labels": labels}
    meta_path.write_text(json.dumps(meta))
    return meta


def bench_csic(work: Path, seed: int, rules: list[Path]) -> dict[str, Any]:
    from secaware.detect import detect
    from secaware.detect.rules import compile_rules
    from secaware.resources import bundled

    meta = make_csic(work, seed)
    store, models = work / "csic" / "store", work / "csic" / "models"
    for p in (store, models):
        shutil.rmtree(p, ignore_errors=True)
    site = Path(meta["site"])
    ingest([site / "access.log.1"], store, settle_seconds=0)
    t0 = time.perf_counter()
    trained = train(store, since=dt.datetime.fromisoformat(meta["day_a"]),
                    until=dt.datetime.fromisoformat(meta["day_b"]), models_dir=models)
    train_s = time.perf_counter() - t0
    ingest([site / "access.log"], store, settle_seconds=0)
    t0 = time.perf_counter()
    anomalies(store, models=models)
    score_s = time.perf_counter() - t0
    comp = compile_rules(rules or [bundled("rules")])
    rules_note = f"{len(comp.rules)} rules from {', '.join(map(str, rules)) or 'the shipped pack'}"
    if comp.rules:
        detect(store, compilation=comp)
    else:
        rules_note += ": none compiled, so the rules columns are empty"
    events = pl.read_delta(str(store / "events")).filter(pl.col("file").str.ends_with("/access.log")).select(
        "event_id", "line_no")
    flagged = pl.read_delta(str(store / "anomalies")).filter(pl.col("is_anomaly") & (pl.col("kind") == "request"))
    alerted = (pl.read_delta(str(store / "alerts")).filter(pl.col("kind") == "event") if (store / "alerts").exists()
               else pl.DataFrame(schema={"event_id": pl.Int64}))
    labels = pl.DataFrame(meta["labels"], schema=["line_no", "cls", "get_with_query"], orient="row")
    frame = (labels.join(events, on="line_no", how="left")
             .with_columns(pl.col("event_id").is_in(flagged["event_id"].implode()).alias("anomaly"),
                           pl.col("event_id").is_in(alerted["event_id"].drop_nulls().implode()).alias("rules"))
             .with_columns((pl.col("anomaly") | pl.col("rules")).alias("either")))
    per_class = (frame.filter(pl.col("cls") != "normal").group_by("cls").agg(
        pl.len().alias("n"), pl.col("anomaly").mean(), pl.col("rules").mean(), pl.col("either").mean()).sort("cls"))
    attacks = frame.filter(pl.col("cls") != "normal")
    normal = frame.filter(pl.col("cls") == "normal")
    normal_get = normal.filter(pl.col("get_with_query"))
    out = {
        "baseline_requests": meta["train"], "held_back_normal": normal.height,
        "held_back_normal_get_with_parameters": normal_get.height, "attack_requests": attacks.height,
        "threshold": trained.thresholds.get("request"), "train_seconds": round(train_s, 2), "rules": rules_note,
        "score_seconds": round(score_s, 2),
        "per_class": per_class.to_dicts(),
        "detection": {k: float(attacks[k].mean()) for k in ("anomaly", "rules", "either")},
        "detection_macro": {k: float(per_class[k].mean()) for k in ("anomaly", "rules", "either")},
        "false_positive": {k: float(normal[k].mean()) for k in ("anomaly", "rules", "either")},
        "false_positive_get_with_parameters": {k: float(normal_get[k].mean()) for k in ("anomaly", "rules", "either")},
        "examples": flagged.join(events, on="event_id").join(labels, on="line_no").group_by("cls").agg(
            pl.col("explanation").first()).sort("cls").to_dicts(),
    }
    return out


# --------------------------------------------------------------------------------- 2. behaviour


def _req(t: dt.datetime, ip: str, method: str, target: str, status: int, size: int, ua: str):  # type: ignore[no-untyped-def]
    from secaware.samples.model import Request

    return Request(ts=t, client=ip, method=method, target=target, status=status, size=size, ua=ua)


SCAN_PATHS = [f"/{p}" for p in (
    "admin/", "admin/login.php", "administrator/", "manager/html", "console/", "phpmyadmin/", "pma/", "wp-login.php",
    "wp-admin/", "backup.zip", "backup.tar.gz", "www.zip", "web.rar", "db.sql", "database.sql", ".env", ".git/HEAD",
    ".svn/entries", "config.php.bak", "web.config", "WEB-INF/web.xml", "server-status", "phpinfo.php", "info.php",
    "test.php", "shell.php", "upload/", "uploads/", "install/", "setup.php", "solr/admin/", "actuator/env",
    "actuator/health", "jolokia/list", "druid/index.html", "swagger-ui.html", "v2/api-docs", "nacos/", "jenkins/",
    "struts2-showcase/", "axis2/", "invoker/readonly", "ueditor/net/controller.ashx", "fckeditor/", "kindeditor/",
    "eWebEditor/", "seeyon/", "weaver/", "OA/", "oa/login.jsp", "system/login", "sys/login", "manage/login",
    "login.aspx", "Login.jsp", "cms/", "dede/", "plus/", "data/", "include/", "tmp/", "temp/", "logs/", "log/",
    "old/", "bak/", "test/", "demo/", "api/", "api/v1/users", "api/user/list", "user/list", "crossdomain.xml",
    "robots.txt", "sitemap.xml", "readme.html", "README.md", "CHANGELOG.txt", "license.txt")]


def plant_extra(sample_dir: Path, seed: int) -> list[tuple[str, str, dt.datetime, dt.datetime, str, str]]:
    """Three behaviours the generator does not plant, written by its own formatter into extra files."""
    from secaware.samples.webformat import format_request

    rng = random.Random(f"{seed}:extra")
    chrome = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
              "Safari/537.36")
    labels = []

    # slow scanner: one probe every 60-100 s for six night hours against the 甘南 portal
    ip, t, reqs = "45.95.147.236", dt.datetime(2026, 11, 23, 1, 0, tzinfo=CST), []
    end = t + dt.timedelta(hours=6)
    paths = SCAN_PATHS * 4
    rng.shuffle(paths)
    while t < end and paths:
        path = paths.pop()
        status = rng.choice((404,) * 8 + (403, 301))
        reqs.append(_req(t, ip, "GET", path, status, rng.randint(150, 560), chrome))
        t += dt.timedelta(seconds=rng.uniform(60, 100))
    _write(sample_dir / "623000-gannan" / "gn-portal" / "access-extra.log", reqs, "nginx", format_request)
    labels.append(("ip", ip, reqs[0].ts, reqs[-1].ts, "slow_scanner",
                   f"{len(reqs)} probes, one every 60-100 s for six hours, against gn-portal"))

    # credential stuffing: 5-12 login POSTs a minute for an hour against the 甘南 government service portal
    ip, t, reqs = "123.249.79.15", dt.datetime(2026, 11, 24, 13, 10, tzinfo=CST), []
    end = t + dt.timedelta(minutes=55)
    while t < end:
        for _ in range(rng.randint(5, 12)):
            ok = rng.random() < 0.02
            reqs.append(_req(t + dt.timedelta(seconds=rng.uniform(0, 59)), ip, "POST", "/zwfw/user/login",
                             302 if ok else 200, rng.randint(0, 40) if ok else rng.randint(96, 120), chrome))
        t += dt.timedelta(minutes=1)
    reqs.sort(key=lambda r: r.ts)
    _write(sample_dir / "623000-gannan" / "gn-zwfw" / "access-extra.log", reqs, "nginx", format_request)
    labels.append(("ip", ip, reqs[0].ts, reqs[-1].ts, "credential_stuffing",
                   f"{len(reqs)} login attempts in an hour against gn-zwfw"))

    # crawler storm: a fake Baiduspider pulling 6,000 article pages in 40 minutes from the 兰州 portal
    ip, t, reqs = "47.92.137.50", dt.datetime(2026, 11, 24, 9, 0, tzinfo=CST), []
    ua = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
    for _ in range(6000):
        section = rng.choice(("zwgk/tzgg", "zwgk/zcjd", "xxgk/fdzdgknr", "ywdt/zwyw", "ywdt/bmdt"))
        month = rng.choice(("202609", "202610", "202611"))
        target = f"/{section}/{month}/t{month}{rng.randint(1, 28):02d}_{rng.randint(100000, 999999)}.html"
        reqs.append(_req(t, ip, "GET", target, 200 if rng.random() < 0.93 else 404, rng.randint(9000, 60000), ua))
        t += dt.timedelta(seconds=rng.expovariate(2.5))
    _write(sample_dir / "620100-lanzhou" / "lz-portal" / "access-extra.log", reqs, "nginx_xff", format_request)
    labels.append(("ip", ip, reqs[0].ts, reqs[-1].ts, "crawler_storm",
                   f"{len(reqs)} article pages in {(reqs[-1].ts - reqs[0].ts).seconds // 60} minutes from lz-portal, "
                   f"fake Baiduspider"))
    return labels


def _write(path: Path, reqs: list[Any], style: str, fmt: Any) -> None:
    path.write_text("".join(fmt(r, style) + "\n" for r in reqs))


def make_samples(work: Path, days: int, scale: float, seed: int) -> tuple[Path, Path]:
    from secaware.samples import generate

    out = work / f"samples-d{days}-s{scale:g}-seed{seed}"
    labels = out / "labels_all.csv"
    if labels.exists():
        return out, labels
    generate(out, days=days, seed=seed, scale=scale)
    extra = plant_extra(out, seed)
    rows = list(csv.reader((out / "labels_behaviour.csv").open()))
    rows += [[e, ent, a.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              b.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), sc, det] for e, ent, a, b, sc, det in extra]
    with labels.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return out, labels


def touched(store: Path, samples: Path) -> pl.DataFrame:
    """(model, entity, window_start) -> scenario for windows holding a planted line (labels.csv): the
    accounts a brute force hammered are part of it even where labels_behaviour.csv names only the source."""
    from secaware.anomaly.features import FEATURE_SETS

    lines = pl.read_csv(samples / "labels.csv").with_columns(
        (pl.lit(str(samples) + "/") + pl.col("file")).alias("file")).select("file", "line_no", "scenario")
    events = pl.scan_delta(str(store / "events")).join(lines.lazy(), on=["file", "line_no"])
    out = [fs.window_keys(events).select(pl.lit(name).alias("model"), "entity", "window_start", "scenario")
           for name, fs in FEATURE_SETS.items()]
    return pl.concat(out).collect().sort("scenario").unique(["model", "entity", "window_start"], keep="first")


def positives(windows: pl.DataFrame, labels: pl.DataFrame, planted: pl.DataFrame | None = None) -> pl.DataFrame:
    """anomaly_id -> scenario for windows of a labelled entity overlapping its labelled time (and for
    windows holding planted lines)."""
    out = []
    if planted is not None:
        out.append(windows.join(planted, on=["model", "entity", "window_start"]).select("anomaly_id", "scenario"))
    for r in labels.iter_rows(named=True):
        entity = pl.col("entity")
        if r["entity_type"] == "user":  # accounts are user@host: the host when the label names one
            import re

            hosts = re.findall(r"\b[a-z]+-[a-z]+-\d\d\b", r["detail"])
            who = entity.is_in([f"{r['entity']}@{h}" for h in hosts]) if hosts else \
                entity.str.starts_with(r["entity"] + "@")
        else:
            who = entity == r["entity"]
        hit = windows.filter(who & (pl.col("window_end") > r["window_start"]) & (pl.col("window_start") <= r[
            "window_end"]))
        out.append(hit.select("anomaly_id").with_columns(pl.lit(r["scenario"]).alias("scenario")))
    return pl.concat(out).group_by("anomaly_id").agg(pl.col("scenario").sort().first())


def bench_behaviour(work: Path, days: int, scale: float, seed: int) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    samples, label_file = make_samples(work, days, scale, seed)
    store, models = work / f"behaviour-store-d{days}-s{scale:g}-seed{seed}", work / "behaviour-models"
    if not (store / "events").exists():
        shutil.rmtree(store, ignore_errors=True)
        fw = samples / "620900-jiuquan" / "firewall"  # its header times are UTC (see the samples README)
        ingest([fw], store, tz="UTC", settle_seconds=0)
        ingest([samples], store, settle_seconds=0)
    shutil.rmtree(store / "anomalies", ignore_errors=True)
    shutil.rmtree(models, ignore_errors=True)
    split = dt.datetime(2026, 11, 25, tzinfo=CST)  # days 1-2 are scored, days 3.. are the baseline
    t0 = time.perf_counter()
    trained = train(store, since=split, models_dir=models)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    anomalies(store, models=models, keep_all=True)
    score_s = time.perf_counter() - t0
    rows = pl.read_delta(str(store / "anomalies")).filter((pl.col("kind") == "behaviour")
                                                         & (pl.col("window_start") < split))
    labels = pl.read_csv(label_file, try_parse_dates=True)
    rows = rows.join(positives(rows, labels, touched(store, samples)), on="anomaly_id", how="left")
    normal = rows.filter(pl.col("scenario").is_null())
    results = []
    for scenario in sorted(rows["scenario"].drop_nulls().unique()):
        pos = rows.filter(pl.col("scenario") == scenario)
        pool = pl.concat([pos, normal])
        y = (pool["scenario"] == scenario).fill_null(False).to_numpy()
        k = pos.height
        top = pool.sort("score", descending=True).head(k)
        best = pos.sort("score", descending=True).row(0, named=True)
        own = normal.filter(pl.col("model") == best["model"])
        results.append({
            "scenario": scenario, "in_issue": scenario in ISSUE_SCENARIOS, "windows": k,
            "roc_auc": float(roc_auc_score(y, pool["score"].to_numpy())),
            "precision_at_k": float((top["scenario"] == scenario).fill_null(False).mean()),
            "best_rank": int((normal["score"] > best["score"]).sum()) + 1,
            "best_model": best["model"], "rank_in_model": int((own["score"] > best["score"]).sum()) + 1,
            "normal_in_model": own.height, "best_score": round(best["score"], 2),
            "flagged": bool(pos["is_anomaly"].any()),
            "entity": best["entity"], "explanation": best["explanation"],
        })
    return {
        "samples": str(samples), "days": days, "scale": scale, "seed": seed, "scored_days": "2026-11-23..2026-11-24",
        "baseline_windows": trained.windows, "normal_windows": normal.height,
        "normal_by_model": dict(normal.group_by("model").len().sort("model").iter_rows()),
        "normal_flagged": int(normal["is_anomaly"].sum()), "train_seconds": round(train_s, 2),
        "score_seconds": round(score_s, 2), "scenarios": results,
    }


# -------------------------------------------------------------------------------------- 3. speed


def _python(code: str, out: Path) -> tuple[float, float, int, str]:
    seconds, rss_kb, code_ = bench_ingest.run_child([sys.executable, "-c", code], out, env=bench_ingest.secaware_env())
    return seconds, rss_kb / 1024, code_, out.read_text()


def bench_speed(work: Path, lines: int, seed: int) -> dict[str, Any]:
    data = work.parent / "data" / "620100-lanzhou"
    full = data / f"access-{lines}-s{seed}-v{bench_ingest.GEN_VERSION}.log"
    gen = bench_ingest.ensure(full, bench_ingest.generate_web, lines, seed)
    store = work / f"speed-{lines}-s{seed}"
    if not (store / "_ingested").exists():
        shutil.rmtree(store, ignore_errors=True)
        log(f"ingesting {full.name} (not timed) ...")
        subprocess.run([sys.executable, "-m", "secaware", "ingest", str(full), "--store", str(store), "--settle", "0"],
                       check=True, env=bench_ingest.secaware_env(), stdout=subprocess.DEVNULL)
        (store / "_ingested").touch()
    models = work / "speed-models"
    shutil.rmtree(models, ignore_errors=True)
    shutil.rmtree(store / "anomalies", ignore_errors=True)
    out: dict[str, Any] = {"generation_seconds": round(gen, 1), "lines": lines}
    runs = {
        "train": f"from secaware.anomaly import train; r = train({str(store)!r}, models_dir={str(models)!r})",
        "score": f"from secaware.anomaly import anomalies; r = anomalies({str(store)!r}, models={str(models)!r})",
        "rerun": f"from secaware.anomaly import anomalies; r = anomalies({str(store)!r}, models={str(models)!r})",
    }
    for name, code in runs.items():
        log(f"{name} ...")
        s, rss, exit_code, text = _python(code + "; import json; print(json.dumps(r.as_dict()))",
                                          work / f"speed-{name}.json")
        out[name] = {"seconds": round(s, 1), "peak_rss_mb": round(rss), "exit": exit_code,
                     "report": json.loads(text.splitlines()[-1]) if exit_code == 0 else text[-2000:]}
    return out


# ------------------------------------------------------------------------------- 4. model loading

_LOAD = """
import json, time
t0 = time.perf_counter()
import numpy as np, polars as pl
from secaware.anomaly.models import load_model
from secaware.anomaly.behaviour import to_matrix
from secaware.anomaly.features import FEATURE_SETS
t1 = time.perf_counter()
request, _, _ = load_model(MODELS, "request")
bundle, _, _ = load_model(MODELS, "behaviour")
t2 = time.perf_counter()
frame = pl.DataFrame({"site": ["620100-lanzhou"], "http_method": ["GET"], "url_path": ["/zwgk/tzgg/list"],
                      "url_query": ["page=2"]})
request.score(frame)
fs = FEATURE_SETS["web_source_hour"]
m = bundle.sets[fs.name]
m.detector.decision_function(np.zeros((1, len(fs.features))))
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_score_s": t3 - t2}))
"""

_PYOD_HBOS = """
import json, time, joblib, numpy as np
from pyod.models.hbos import HBOS
X = np.random.default_rng(0).normal(size=(5000, 15))
joblib.dump(HBOS(n_bins=20).fit(X), PATH)
"""

_PYOD_HBOS_LOAD = """
import json, time, joblib, numpy as np
t0 = time.perf_counter()
h = joblib.load(PATH)
t1 = time.perf_counter()
h.decision_function(np.zeros((1, 15)))
print(json.dumps({"load_s": t1 - t0, "first_score_s": time.perf_counter() - t1}))
"""


def bench_load(work: Path, models: Path) -> dict[str, Any]:
    s, rss, code, text = _python(_LOAD.replace("MODELS", repr(str(models))), work / "load.json")
    out = {"secaware": {"seconds": round(s, 2), "peak_rss_mb": round(rss), "exit": code,
                        **({k: round(v, 3) for k, v in json.loads(text.splitlines()[-1]).items()} if code == 0 else
                           {"error": text[-1000:]})},
           "model_bytes": {p.name: p.stat().st_size for p in sorted(models.glob("*.joblib"))}}
    path = work / "pyod-hbos.joblib"
    subprocess.run([sys.executable, "-c", _PYOD_HBOS.replace("PATH", repr(str(path)))], check=True)
    s, rss, code, text = _python(_PYOD_HBOS_LOAD.replace("PATH", repr(str(path))), work / "pyod-load.json")
    out["stock_pyod_hbos"] = {"seconds": round(s, 2), **({k: round(v, 3) for k, v in json.loads(
        text.splitlines()[-1]).items()} if code == 0 else {"error": text[-1000:]})}
    return out


# ----------------------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render(res: dict[str, Any]) -> str:
    lines = []
    if "csic" in res:
        c = res["csic"]
        lines += ["", "## Request level: CSIC 2010 (normal training requests as nginx lines; payloads in parameters)",
                  f"baseline {c['baseline_requests']:,} requests; held back {c['held_back_normal']:,} normal "
                  f"({c['held_back_normal_get_with_parameters']:,} GET with parameters); {c['attack_requests']:,} "
                  f"attacks; threshold {c['threshold']:.2f}; train {c['train_seconds']}s, score {c['score_seconds']}s; "
                  f"signatures: {c['rules']}",
                  "", "| payload class | requests | anomalies | rules | rules or anomalies |", "|---|---|---|---|---|"]
        for r in c["per_class"]:
            lines.append(f"| {r['cls']} | {r['n']:,} | {_pct(r['anomaly'])} | {_pct(r['rules'])} | "
                         f"{_pct(r['either'])} |")
        d, m, f, g = c["detection"], c["detection_macro"], c["false_positive"], c["false_positive_get_with_parameters"]
        lines += [f"| **all attacks** | {c['attack_requests']:,} | {_pct(d['anomaly'])} | {_pct(d['rules'])} | "
                  f"{_pct(d['either'])} |",
                  f"| mean over classes | | {_pct(m['anomaly'])} | {_pct(m['rules'])} | {_pct(m['either'])} |",
                  f"| **false positives**, held-back normal | {c['held_back_normal']:,} | {_pct(f['anomaly'])} | "
                  f"{_pct(f['rules'])} | {_pct(f['either'])} |",
                  f"| false positives, GET with parameters | {c['held_back_normal_get_with_parameters']:,} | "
                  f"{_pct(g['anomaly'])} | {_pct(g['rules'])} | {_pct(g['either'])} |",
                  "", "examples:"]
        lines += [f"- {e['cls']}: {e['explanation']}" for e in c["examples"]]
    if "behaviour" in res:
        b = res["behaviour"]
        lines += ["", f"## Behaviour level: sample logs, {b['days']} days at scale {b['scale']:g}, days 3-{b['days']} "
                      f"the baseline, {b['scored_days']} scored",
                  f"baseline windows {b['baseline_windows']}; scored normal windows {b['normal_windows']:,} "
                  f"{b['normal_by_model']}; normal windows flagged {b['normal_flagged']} "
                  f"({_pct(b['normal_flagged'] / max(b['normal_windows'], 1))}); train {b['train_seconds']}s, "
                  f"score {b['score_seconds']}s",
                  "", "| scenario | windows | ROC AUC | precision@k | best rank (all normal) | best model "
                      "| rank in model | flagged |", "|---|---|---|---|---|---|---|---|"]
        for r in sorted(b["scenarios"], key=lambda r: (not r["in_issue"], r["scenario"])):
            name = f"**{r['scenario']}**" if r["in_issue"] else r["scenario"]
            lines.append(f"| {name} | {r['windows']} | {r['roc_auc']:.3f} | {r['precision_at_k']:.2f} | "
                         f"{r['best_rank']} of {b['normal_windows']:,} | {r['best_model']} | {r['rank_in_model']} of "
                         f"{r['normal_in_model']:,} | {'yes' if r['flagged'] else 'no'} |")
        lines += ["", "explanations of the best window of each scenario named in the issue:"]
        lines += [f"- {r['scenario']} ({r['entity']}): {r['explanation']}" for r in b["scenarios"] if r["in_issue"]]
    if "speed" in res:
        s = res["speed"]
        sc = s["score"]
        rep = sc.get("report") if isinstance(sc.get("report"), dict) else {}
        windows = sum((rep.get("windows") or {}).values())
        req_s, beh_s = rep.get("request_seconds") or 1e-9, rep.get("behaviour_seconds") or 1e-9
        lines += ["", "## Speed (child process, wall time and peak RSS)",
                  f"- `models train` on the {s['lines']:,} lines (a day of one portal): {s['train']['seconds']}s, "
                  f"peak RSS {s['train']['peak_rss_mb']} MB",
                  f"- `anomalies` over {rep.get('requests', 0):,} requests and {windows:,} entity windows "
                  f"({rep.get('windows')}): {sc['seconds']}s in all (request level {req_s:.1f}s = "
                  f"{rep.get('requests', 0) / req_s:,.0f} requests/s, behaviour level {beh_s:.1f}s = "
                  f"{windows / beh_s:,.0f} windows/s), peak RSS {sc['peak_rss_mb']} MB; "
                  f"{rep.get('request_anomalies', 0):,} request and "
                  f"{sum((rep.get('behaviour_anomalies') or {}).values()):,} behaviour anomalies",
                  f"- rerun with nothing new: {s['rerun']['seconds']}s, peak RSS {s['rerun']['peak_rss_mb']} MB"]
    if "load" in res:
        ld = res["load"]
        x = ld["secaware"]
        lines += ["", "## Model loading in a fresh process",
                  f"- secaware: imports {x.get('import_s')}s, load both models with sha256 check {x.get('load_s')}s, "
                  f"first request and behaviour score {x.get('first_score_s')}s; whole process {x['seconds']}s, peak "
                  f"RSS {x['peak_rss_mb']} MB; files {ld['model_bytes']}",
                  f"- stock PyOD HBOS after joblib.load: first decision_function "
                  f"{ld['stock_pyod_hbos'].get('first_score_s')}s (numba compiles it), which FastHBOS avoids"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/secaware-bench"))
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--scale", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--speed-lines", type=int, default=5_000_000)
    ap.add_argument("--rules", type=Path, action="append", default=[],
                    help="Sigma rules for the signatures column (repeatable; default: the shipped pack)")
    ap.add_argument("--skip-csic", action="store_true")
    ap.add_argument("--skip-behaviour", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = args.workdir / "anomaly"
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"info": {"python": sys.version.split()[0], "polars": pl.__version__,
                                    "cpus": os.cpu_count(), "load_before": os.getloadavg()[0],
                                    "started": dt.datetime.now(dt.UTC).isoformat()}}
    if not args.skip_csic:
        log("request level on CSIC 2010 ...")
        res["csic"] = bench_csic(work, args.seed, args.rules)
    if not args.skip_behaviour:
        log("behaviour level on the sample logs ...")
        res["behaviour"] = bench_behaviour(work, args.days, args.scale, args.seed)
    if not args.skip_speed:
        log("speed ...")
        res["speed"] = bench_speed(work, args.speed_lines, 7)
        res["load"] = bench_load(work, work / "speed-models")
    res["info"]["load_after"] = os.getloadavg()[0]
    (work / f"results-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json").write_text(json.dumps(res, indent=2, default=str))
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    else:
        print(f"secaware anomaly benchmark; Python {res['info']['python']}, Polars {res['info']['polars']}, "
              f"{res['info']['cpus']} CPUs, load {res['info']['load_before']:.1f} -> {res['info']['load_after']:.1f}")
        print(render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
