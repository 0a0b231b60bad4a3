"""`secaware run`: the whole night's work in one command a scheduler can trust.

Every stage is incremental and exactly once on its own (ingest by file offsets, detect by ingest
batch, incidents by stable ids), so a run killed at any point and started again finishes the work
without duplicates. A lock on the store keeps two runs from overlapping; the kernel drops it when
its holder dies, so a crashed run never leaves a lock that blocks the next night.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from secaware.config import Config
from secaware.errors import SecawareError
from secaware.store import Store

LOCK_NAME = ".secaware.lock"
SEVERITY_ORDER = ("low", "medium", "high", "critical")

#: Exit codes, documented in the README: schedulers act on them.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FAIL_ON, EXIT_LOCKED = 0, 1, 2, 3, 75


class LockHeld(SecawareError):
    """Another run holds the store."""


class StoreLock:
    """An exclusive advisory lock on the store, with who holds it written inside for the next run."""

    def __init__(self, store: Path, command: str = "run") -> None:
        self.path = store / LOCK_NAME
        self.command = command
        self._file: IO[str] | None = None

    def __enter__(self) -> StoreLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            try:
                info = json.loads(holder)
                who = (f"pid {info.get('pid')} on {info.get('host')} since {info.get('started')} "
                       f"({info.get('command')})")
            except ValueError:
                who = "another process"
            raise LockHeld(f"another secaware run holds {self.path}: {who}; this run stops") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                                 "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}))
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.close()  # closing drops the lock
            self._file = None


@dataclass
class StageResult:
    name: str
    seconds: float
    summary: dict[str, Any]
    error: str | None = None


@dataclass
class RunReport:
    store: str
    stages: list[StageResult] = field(default_factory=list)
    report_path: str | None = None
    exit_code: int = EXIT_OK
    fail_on: str | None = None
    failing_incidents: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "report": self.report_path, "exit_code": self.exit_code,
                "seconds": round(self.seconds, 2), "fail_on": self.fail_on,
                "failing_incidents": self.failing_incidents,
                "stages": [{"name": s.name, "seconds": round(s.seconds, 2), "error": s.error, **s.summary}
                           for s in self.stages]}


Stage = Callable[[Config, Store, RunReport], dict[str, Any]]


def _ingest(cfg: Config, store: Store, run: RunReport) -> dict[str, Any]:
    from secaware.ingest import ingest

    totals: dict[str, int] = {"files": 0, "lines": 0, "events": 0, "rejects": 0, "file_errors": 0}
    for c in cfg.collectors:
        # a collector inside this one (a device in another zone, say) reads its own folder
        inner = [o.path for o in cfg.collectors if o is not c and o.path.absolute().is_relative_to(c.path.absolute())
                 and o.path.absolute() != c.path.absolute()]
        rep = ingest([c.path], store, format=c.format, prefecture=c.prefecture, tz=c.tz, settle_seconds=cfg.settle,
                     exclude=inner)
        t = rep.totals()
        totals["files"] += len(rep.files)
        for k in ("lines", "events", "rejects"):
            totals[k] += t[k]
        totals["file_errors"] += len(rep.errors)
    if totals["file_errors"]:
        run.exit_code = max(run.exit_code, EXIT_ERROR)
    return totals


def _detect(cfg: Config, store: Store, run: RunReport) -> dict[str, Any]:
    from secaware.detect import detect

    rep = detect(store, cfg.rules or None, allowlist=cfg.allowlist)
    return {"events": rep.events, "alerts": rep.alerts, "correlation_alerts": rep.correlation_alerts,
            "suppressed": rep.suppressed, "rules_not_used": len(rep.failed), "nothing_new": rep.nothing_new}


def _anomalies(cfg: Config, store: Store, run: RunReport) -> dict[str, Any]:
    from secaware.anomaly import anomalies

    rep = anomalies(store, models=cfg.models, inventory=cfg.inventory)
    return {"requests": rep.requests, "request_anomalies": rep.request_anomalies,
            "behaviour_anomalies": sum(rep.behaviour_anomalies.values()),
            "without_trained_model": sorted(k for k, v in rep.adhoc.items() if v), "nothing_new": rep.nothing_new}


def _incidents(cfg: Config, store: Store, run: RunReport) -> dict[str, Any]:
    from secaware.config import parse_duration
    from secaware.incidents import incidents
    from secaware.schema import ALERTS

    if not store.exists(ALERTS):
        return {"incidents": 0, "skipped": "no alerts table"}
    gap = parse_duration(cfg.gap)
    if gap is None:
        raise SecawareError(f"incidents gap {cfg.gap!r} is not a duration like 30m")
    rep = incidents(store, inventory=cfg.inventory, gap=gap)
    if run.fail_on:
        import polars as pl

        from secaware.schema import INCIDENTS

        wanted = list(SEVERITY_ORDER[SEVERITY_ORDER.index(run.fail_on):])
        run.failing_incidents = int(store.scan(INCIDENTS).filter(
            pl.col("severity").is_in(wanted) & pl.col("status").is_in(["new", "updated"])).select(pl.len())
            .collect().item())
    return {"incidents": rep.incidents, "new": rep.new, "updated": rep.updated}


def _compliance(cfg: Config, store: Store, run: RunReport) -> dict[str, Any]:
    from secaware.compliance import compliance

    rep = compliance(store, inventory=cfg.inventory)
    return {"systems": rep.systems, "noncompliant": rep.by_verdict.get("不符合", 0), "high_risk": rep.high_risk}


def _report_dir(cfg: Config) -> Path:
    return (cfg.report_dir or Path("reports")).absolute()


def _output_ok(cfg: Config, store: Store, name: str) -> bool:
    """The stage's output is there (a skipped stage must have left something to skip to)."""
    if name == "report":
        return (_report_dir(cfg) / "index.html").exists()
    return store.exists(name)


def _report(cfg: Config, store: Store, run: RunReport) -> dict[str, Any]:
    from secaware.report import report

    result = report(store, _report_dir(cfg), lang=cfg.lang, inventory=cfg.inventory, models=cfg.models)
    run.report_path = result.index
    return {"pages": result.pages, "largest_page_kb": result.largest_page // 1000}


#: The stages in order.
STAGES: list[tuple[str, Stage]] = [("ingest", _ingest), ("detect", _detect), ("anomalies", _anomalies),
                                   ("incidents", _incidents), ("compliance", _compliance), ("report", _report)]
#: Stages that recompute from whole tables: skipped when none of these tables changed since they last ran.
INPUTS: dict[str, tuple[str, ...]] = {
    "incidents": ("alerts", "anomalies"),
    "compliance": ("events", "alerts"),
    "report": ("events", "rejects", "alerts", "anomalies", "incidents", "compliance"),
}
STATE_NAME = ".secaware-run.json"


def _versions(store: Store, tables: tuple[str, ...]) -> dict[str, int]:
    from deltalake import DeltaTable

    return {t: DeltaTable(str(store.path(t))).version() if store.exists(t) else -1 for t in tables}


def _settings(cfg: Config) -> str:
    """What else a stage's result depends on: the inventory (and when it was edited), language, places."""
    inv = cfg.inventory
    edited = inv.stat().st_mtime_ns if inv is not None and inv.exists() else None
    return json.dumps([str(inv), edited, cfg.lang, str(_report_dir(cfg)), cfg.gap, str(cfg.models)])


def _load_state(store: Store) -> dict[str, Any]:
    try:
        return dict(json.loads((store.root / STATE_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _save_state(store: Store, state: dict[str, Any]) -> None:
    tmp = store.root / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, store.root / STATE_NAME)  # atomic: a crash leaves the old state, never half of one


def run(cfg: Config, *, fail_on: str | None = None, progress: Callable[[str], None] | None = None) -> RunReport:
    """Every stage on what is new, under the store lock; a failing stage stops the ones after it."""
    if cfg.problems:
        raise SecawareError("the configuration has problems:\n" + "\n".join(cfg.problems))
    if cfg.store is None:
        raise SecawareError("no store configured")
    if fail_on is not None and fail_on not in SEVERITY_ORDER:
        raise SecawareError(f"--fail-on {fail_on!r}: choose one of {', '.join(SEVERITY_ORDER)}")
    started = time.monotonic()
    store = Store(cfg.store)
    report = RunReport(str(store.root), fail_on=fail_on)
    with StoreLock(store.root, " ".join(sys.argv[:3]) or "run"):
        state = _load_state(store)
        for name, stage in STAGES:
            if progress:
                progress(name)
            t = time.monotonic()
            inputs = {**_versions(store, INPUTS[name]), "settings": _settings(cfg)} if name in INPUTS else None
            if inputs is not None and state.get(name, {}).get("inputs") == inputs and _output_ok(cfg, store, name):
                report.stages.append(StageResult(name, time.monotonic() - t, {"up_to_date": True}))
                if name == "report":
                    report.report_path = str(_report_dir(cfg) / "index.html")
                continue
            try:
                summary = stage(cfg, store, report)
            except SecawareError as exc:
                report.stages.append(StageResult(name, time.monotonic() - t, {}, str(exc)))
                report.exit_code = EXIT_ERROR
                break
            report.stages.append(StageResult(name, time.monotonic() - t, summary))
            if inputs is not None:
                state[name] = {"inputs": inputs}
                _save_state(store, state)
    if report.exit_code == EXIT_OK and fail_on and report.failing_incidents:
        report.exit_code = EXIT_FAIL_ON
    report.seconds = time.monotonic() - started
    return report
