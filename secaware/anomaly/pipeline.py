"""The anomaly stage: train models on a baseline; score new events into the anomalies table exactly once.

`train` fits the request profile and the behaviour ensembles on a baseline period of the store and
writes them with their cards to `models/`. `anomalies` scores what ingest added since the last run:

- request level: every new web request (read in event-id slices, only the columns needed);
- behaviour level: every entity window that new events fall into, recomputed from all its events
  (older batches included), replacing the rows written for those days before.

Each level commits its rows with a Delta transaction version (the newest ingest batch scored), so
a run killed anywhere and started again neither loses nor duplicates rows, and a rerun with
nothing new adds nothing. Without a trained model a level fits a baseline on the data at hand,
scores each request or window against the others (never against itself), and says so in the
report and in every row it writes (`adhoc`, `baseline`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from secaware.anomaly.behaviour import BehaviourDetector, FeatureBaseline, SetModel, explain_rows, to_matrix
from secaware.anomaly.features import DEFAULT_TZ, FEATURE_SETS, WEB_SOURCES, FeatureSet, site_key
from secaware.anomaly.models import MODEL_FILES, ModelError, check_location, library_versions, load_model, save_model
from secaware.anomaly.request import CLASSES, KINDS, MAX_ENUM, RARE, RequestProfile
from secaware.errors import SecawareError
from secaware.schema import ANOMALIES, EVENTS, UTC_TS, schema
from secaware.store import Store

APP_REQUEST = "secaware-anomaly-request"
APP_BEHAVIOUR = "secaware-anomaly-behaviour"
DEFAULT_MODELS = Path("models")
#: Requests scored at once; bounds memory.
CHUNK_ROWS = 500_000
#: A feature set needs this many baseline windows to be trained.
MIN_WINDOWS = 20
_REQUEST_COLUMNS = ("event_id", "ts", "batch_id", "source", "src_ip", "http_method", "url_path", "url_query",
                    "url_domain", "host", "file", "line_no", "prefecture")

ProgressFn = Callable[[str, int, int], None]


@dataclass
class BehaviourBundle:
    """What behaviour.joblib holds: one SetModel per feature set, and the zone days are counted in."""

    sets: dict[str, SetModel]
    tz: str
    period: tuple[str | None, str | None]


@dataclass
class TrainReport:
    store: str
    models_dir: str
    since: str | None = None
    until: str | None = None
    first_event: str | None = None
    last_event: str | None = None
    requests: int = 0
    windows: dict[str, int] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        period = f"{self.first_event or '?'} .. {self.last_event or '?'}"
        lines = [f"baseline {period} from {self.store}"]
        if "request" in self.files:
            lines.append(f"request profile: {self.requests:,} web requests, threshold {self.thresholds['request']:.2f}"
                         f" -> {self.files['request']['path']} (sha256 {self.files['request']['sha256'][:12]})")
        if "behaviour" in self.files:
            sets = ", ".join(f"{k} {v:,}" for k, v in self.windows.items())
            lines.append(f"behaviour models: windows {sets} -> {self.files['behaviour']['path']} "
                         f"(sha256 {self.files['behaviour']['sha256'][:12]})")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"trained in {self.seconds:.1f}s")
        return "\n".join(lines)


@dataclass
class AnomalyReport:
    store: str
    models_dir: str
    requests: int = 0
    requests_unscored: int = 0
    request_anomalies: int = 0
    request_threshold: float | None = None
    windows: dict[str, int] = field(default_factory=dict)
    behaviour_anomalies: dict[str, int] = field(default_factory=dict)
    adhoc: dict[str, bool] = field(default_factory=dict)
    baseline: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    nothing_new: bool = False
    request_seconds: float = 0.0
    behaviour_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def anomalies(self) -> int:
        return self.request_anomalies + sum(self.behaviour_anomalies.values())

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "anomalies": self.anomalies}

    def summary(self) -> str:
        if self.nothing_new:
            return f"no new events to score; store {self.store}"
        lines = []
        if "request" in self.baseline:
            lines.append(f"request level: {self.requests:,} web requests scored, {self.request_anomalies:,} anomalies "
                         f"(threshold {self.request_threshold or 0:.2f}); baseline: {self.baseline['request']}")
            if self.requests_unscored:
                lines.append(f"  {self.requests_unscored:,} requests to sites without a baseline were not scored")
        if "behaviour" in self.baseline:
            sets = ", ".join(f"{k} {self.windows.get(k, 0):,}/{self.behaviour_anomalies.get(k, 0):,}"
                             for k in self.windows)
            lines.append(f"behaviour level: windows/anomalies {sets or 'none'}; baseline: {self.baseline['behaviour']}")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"{self.anomalies:,} anomalies written to {self.store}/{ANOMALIES} in {self.seconds:.1f}s")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ helpers


def _ts_between(since: dt.datetime | None, until: dt.datetime | None) -> pl.Expr:
    cond = pl.lit(True)
    if since is not None:
        cond = cond & (pl.col("ts") >= since)
    if until is not None:
        cond = cond & (pl.col("ts") < until)
    return cond


def _web() -> pl.Expr:
    return pl.col("source").is_in(WEB_SOURCES)


def _requests(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.select(*_REQUEST_COLUMNS).with_columns(site_key().alias("site"))


def _days(first: dt.datetime, last: dt.datetime, tz: str, hours: int = 24) -> list[tuple[dt.datetime, dt.datetime]]:
    """Spans of `hours` within local days (as UTC ranges) from first to last: no window straddles two."""
    zone = ZoneInfo(tz)
    day = first.astimezone(zone).date()
    end = last.astimezone(zone).date()
    out = []
    while day <= end:
        for h in range(0, 24, hours):
            a = dt.datetime.combine(day, dt.time(h), zone).astimezone(dt.UTC)
            b = (dt.datetime.combine(day, dt.time(h + hours), zone) if h + hours < 24 else
                 dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)).astimezone(dt.UTC)
            if b > first and a <= last:
                out.append((a, b))
        day += dt.timedelta(days=1)
    return out


def _slices(lf: pl.LazyFrame) -> list[tuple[int, int, int]]:
    """Event id ranges of at most CHUNK_ROWS events (ids are batch_id * 2**24 + row)."""
    batches = (lf.group_by("batch_id").agg(pl.col("event_id").min().alias("lo"), pl.col("event_id").max().alias("hi"),
                                           pl.len().alias("n")).sort("batch_id").collect())
    out = []
    for lo, hi, n in batches.select("lo", "hi", "n").iter_rows():
        parts = max(1, -(-n // CHUNK_ROWS))
        step = -(-(hi - lo + 1) // parts)
        for k in range(parts):
            out.append((lo + k * step, min(hi, lo + (k + 1) * step - 1), n // parts))
    return out


#: Events are read this many hours at a time for hourly feature sets (a day at a time for daily ones).
SPAN_HOURS = 4


def _walk(events: pl.LazyFrame, fs: FeatureSet, tz: str, first: dt.datetime, last: dt.datetime, *,
          known: dict[str, pl.DataFrame] | None) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Feature rows of fs, a few hours of events at a time (bounded memory).

    known None: training; the first-seen tables are built as it goes, so each span is compared with the
    spans before it, and returned. Else scoring against the model's first-seen tables.
    """
    have = events.collect_schema()
    cols = [c for c in fs.columns if c in have]
    running: dict[str, pl.DataFrame] = {} if known is None else known
    frames = []
    for a, b in _days(first, last, tz, 24 if fs.window == "1d" else SPAN_HOURS):
        span = events.filter((pl.col("ts") >= a) & (pl.col("ts") < b)).select(cols)
        frame = fs.compute(span, tz=tz, known=running, as_of=a).collect()
        if frame.height:
            frames.append(frame)
        if known is None and frame.height:
            for name, lf in fs.known_sets(span).items():
                learned = lf.collect()
                old = running.get(name)
                running[name] = learned if old is None else pl.concat([old, learned.join(old, on="value",
                                                                                          how="anti")])
    if not frames:
        return pl.DataFrame(), running
    # a fixed row order: group_by's is arbitrary, and IsolationForest's samples are drawn by row number
    return pl.concat(frames, how="vertical_relaxed").sort("window_start", "entity"), running


def _period(store: Store, scope: pl.Expr) -> tuple[dt.datetime | None, dt.datetime | None, int]:
    row = store.scan(EVENTS).filter(scope).select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi"),
                                                 pl.len().alias("n")).collect().row(0)
    return row[0], row[1], int(row[2])


def _fit_request(events: pl.LazyFrame, scope: pl.Expr, max_requests: int) -> tuple[RequestProfile | None, int]:
    web = events.filter(scope & _web())
    n = int(web.select(pl.len()).collect().item())
    if n == 0:
        return None, 0
    if n > max_requests:  # a sample, drawn before reading the rows (stable: by event id)
        keep = max_requests / n
        web = web.filter(pl.col("event_id").hash(7) < int(keep * 2**64))
    frame = _requests(web).select("site", "http_method", "url_path", "url_query").collect()
    profile = RequestProfile(max_requests=max_requests)
    if frame.height < profile.min_requests:
        return None, n
    return profile.fit(frame), n


def _fit_behaviour(events: pl.LazyFrame, first: dt.datetime, last: dt.datetime, tz: str, contamination: float,
                   notes: list[str]) -> tuple[dict[str, SetModel], dict[str, pl.DataFrame]]:
    sets, frames = {}, {}
    for fs in FEATURE_SETS.values():
        frame, known = _walk(events, fs, tz, first, last, known=None)
        frames[fs.name] = frame
        if frame.height < MIN_WINDOWS:
            notes.append(f"{fs.name}: {frame.height} windows in the baseline, fewer than {MIN_WINDOWS}; not modelled")
            continue
        detector = BehaviourDetector(contamination=contamination).fit(to_matrix(frame, fs))
        baseline = FeatureBaseline().fit(frame, fs)
        period = (str(frame["window_start"].min()), str(frame["window_end"].max()))
        sets[fs.name] = SetModel(fs.name, detector, baseline, known, frame.height, period)
    return sets, frames


# -------------------------------------------------------------------------------------------- train


def train(store: str | Path | Store, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
          models_dir: str | Path = DEFAULT_MODELS, tz: str = DEFAULT_TZ, contamination: float = 0.001,
          max_requests: int = 2_000_000) -> TrainReport:
    """Train the request profile and the behaviour models on the events from since to until; write them
    with their model cards to models_dir."""
    started = time.monotonic()
    store = store if isinstance(store, Store) else Store(store)
    if not store.exists(EVENTS):
        raise SecawareError(f"{store.root}: the store has no events yet; run `secaware ingest` first")
    since = since.astimezone(dt.UTC) if since else None
    until = until.astimezone(dt.UTC) if until else None
    scope = _ts_between(since, until)
    first, last, n_events = _period(store, scope)
    if not n_events or first is None or last is None:
        raise SecawareError(f"{store.root}: no events between {since or 'the first'} and {until or 'the last'}; "
                            f"choose a baseline period with --since/--until")
    report = TrainReport(str(store.root), str(models_dir), since=since.isoformat() if since else None,
                         until=until.isoformat() if until else None, first_event=first.isoformat(),
                         last_event=last.isoformat())
    events = store.scan(EVENTS)
    baseline = {"since": report.since, "until": report.until, "first_event": report.first_event,
                "last_event": report.last_event, "events": n_events, "store": str(store.root)}
    versions = library_versions()

    t0 = time.monotonic()
    profile, n_web = _fit_request(events, scope, max_requests)
    report.requests = n_web
    if profile is None:
        report.notes.append(f"{n_web} web requests in the baseline: too few for a request profile; none written")
    else:
        card = {
            "model": "request", "kind": "request", "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "description": "per site and endpoint profile of normal web requests (parameters, value lengths, "
                           "character classes, few-valued parameters, methods, endpoints); score = -log10 of the "
                           "estimated probability of the least likely part of a request",
            "baseline": baseline, "rows": profile.summary(),
            "features": ["parameter present/absent", "value length (Chebyshev)", "character classes "
                         f"({len(CLASSES)}: {', '.join(n for n, _ in CLASSES)})", f"value in few-valued "
                         f"parameters (<= {MAX_ENUM} values)", "method", "endpoint", "path characters",
                         f"value kinds for explanations ({', '.join(k for k, _ in KINDS)}, text)"],
            "parameters": {"min_requests": profile.min_requests, "rare": RARE, "max_enum": MAX_ENUM,
                           "target_fp": profile.target_fp, "min_threshold": profile.min_threshold,
                           "max_requests": profile.max_requests},
            "threshold": profile.threshold_, "training_seconds": round(time.monotonic() - t0, 3),
            "libraries": versions,
        }
        card = save_model(profile, models_dir, "request", card)
        report.thresholds["request"] = profile.threshold_
        report.files["request"] = {"path": str(Path(models_dir) / MODEL_FILES["request"]), **card["file"]}

    t0 = time.monotonic()
    sets, _ = _fit_behaviour(events.filter(scope), first, last, tz, contamination, report.notes)
    if sets:
        bundle = BehaviourBundle(sets, tz, (report.first_event, report.last_event))
        card = {
            "model": "behaviour", "kind": "behaviour", "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "description": "per feature set, an ensemble of PyOD detectors (IForest, ECOD, HBOS) on entity windows; "
                           "score = -log10 of the share of baseline windows at least as unusual",
            "baseline": baseline, "tz": tz,
            "feature_sets": {
                name: {"entity_type": FEATURE_SETS[name].entity_type, "window": FEATURE_SETS[name].window,
                       "description": FEATURE_SETS[name].description, "windows": m.windows,
                       "window_period": list(m.period),
                       "known": {k: v.height for k, v in m.known.items()},
                       "features": [{"name": f.name, "meaning": f.label, "unit": f.unit,
                                     "transform": "log1p" if f.log else "none"} for f in FEATURE_SETS[name].features],
                       "detectors": m.detector.params(), "threshold": m.detector.threshold_}
                for name, m in sets.items()},
            "threshold": -math.log10(contamination), "contamination": contamination,
            "training_seconds": round(time.monotonic() - t0, 3), "libraries": versions,
        }
        card = save_model(bundle, models_dir, "behaviour", card)
        report.files["behaviour"] = {"path": str(Path(models_dir) / MODEL_FILES["behaviour"]), **card["file"]}
        report.windows = {name: m.windows for name, m in sets.items()}
        report.thresholds.update({name: m.detector.threshold_ for name, m in sets.items()})
    if report.files:
        try:
            check_location(Path(models_dir))
        except ModelError as exc:
            report.notes.append(f"written, but will not load from there: {exc}")
    report.seconds = time.monotonic() - started
    return report


# ---------------------------------------------------------------------------------------- anomalies


def _describe(card: dict[str, Any], path: Path) -> str:
    b = card.get("baseline") or {}
    lo, hi = (b.get("first_event") or "?")[:10], (b.get("last_event") or "?")[:10]
    return f"{path} trained on {lo}..{hi} (sha256 {(card.get('file') or {}).get('sha256', '')[:12]})"


def anomalies(store: str | Path | Store, *, models: str | Path | None = None, tz: str | None = None,
              inventory: Any = None, allow_shared_models: bool = False, keep_all: bool = False,
              max_requests: int = 2_000_000, contamination: float = 0.001,
              progress: ProgressFn | None = None) -> AnomalyReport:
    """Score the events added since the last run into the anomalies table (see the module docstring).

    models: folder of trained models (default `models/`); a level without a model fits one on the
    data at hand. keep_all: write every scored request and window, not only anomalies (for
    evaluation). inventory: names the system of each row (optional; default as `secaware incidents`).
    """
    started = time.monotonic()
    store = store if isinstance(store, Store) else Store(store)
    models_dir = Path(models) if models is not None else DEFAULT_MODELS
    if not store.exists(EVENTS):
        raise SecawareError(f"{store.root}: the store has no events yet; run `secaware ingest` first")
    report = AnomalyReport(str(store.root), str(models_dir))
    events = store.scan(EVENTS)
    max_batch = events.select(pl.col("batch_id").max()).collect().item()
    done_req = store.committed_batch(ANOMALIES, APP_REQUEST)
    done_beh = store.committed_batch(ANOMALIES, APP_BEHAVIOUR)
    done_req = -1 if done_req is None else done_req
    done_beh = -1 if done_beh is None else done_beh
    if max_batch is None or min(done_req, done_beh) >= max_batch:
        report.nothing_new = True
        report.seconds = time.monotonic() - started
        return report
    # both models are checked before anything is written: a refused model stops the run cleanly
    loaded_req = load_model(models_dir, "request", allow_shared=allow_shared_models) if done_req < max_batch else None
    loaded_beh = load_model(models_dir, "behaviour", allow_shared=allow_shared_models) if done_beh < max_batch else None
    inv = _inventory(inventory, report)
    detected_at = dt.datetime.now(dt.UTC)
    if done_req < max_batch:
        t0 = time.monotonic()
        _request_level(store, events, done_req, max_batch, loaded_req, models_dir, keep_all, max_requests,
                       inv, detected_at, report, progress)
        report.request_seconds = time.monotonic() - t0
    if done_beh < max_batch:
        t0 = time.monotonic()
        _behaviour_level(store, events, done_beh, max_batch, loaded_beh, models_dir, keep_all, tz,
                         contamination, inv, detected_at, report)
        report.behaviour_seconds = time.monotonic() - t0
    report.seconds = time.monotonic() - started
    return report


def _inventory(inventory: Any, report: AnomalyReport) -> Any:
    from secaware.inventory import Inventory, load_inventory

    if isinstance(inventory, Inventory):
        return inventory
    try:
        return load_inventory(inventory)
    except SecawareError as exc:
        report.notes.append(f"systems not named: {exc}")
        return None


def _attribute(frame: pl.DataFrame, inv: Any) -> pl.DataFrame:
    if inv is None or frame.height == 0:
        return frame
    from secaware.inventory import attribute

    probe = frame.select(pl.int_range(pl.len()).alias("__i"),
                         *[(pl.col(c) if c in frame.columns else pl.lit(None, dtype=pl.String)).alias(c)
                           for c in ("file", "host", "url_domain", "dst_ip")])
    named = attribute(probe, inv).sort("__i")["system"]
    return frame.with_columns(pl.coalesce(named, pl.col("system")).alias("system"))


def _finish(rows: pl.DataFrame) -> pl.DataFrame:
    cols = schema(ANOMALIES)
    return rows.select([pl.col(c).cast(t) if c in rows.columns else pl.lit(None, dtype=t).alias(c)
                        for c, t in cols.items()])


def _request_level(store: Store, events: pl.LazyFrame, done: int, max_batch: int, loaded: Any, models_dir: Path,
                   keep_all: bool, max_requests: int, inv: Any, detected_at: dt.datetime,
                   report: AnomalyReport, progress: ProgressFn | None) -> None:
    scope = (pl.col("batch_id") > done) & _web()
    if loaded is not None:
        profile, card, notes = loaded
        report.notes += notes
        adhoc, baseline = False, _describe(card, models_dir / MODEL_FILES["request"])
    else:
        profile, n = _fit_request(events, pl.lit(True), max_requests)
        adhoc = True
        baseline = (f"none trained (no {MODEL_FILES['request']} in {models_dir}): fitted on the {n:,} web requests in "
                    f"the store, each compared with the others")
        report.notes.append(f"no trained request model in {models_dir}: requests were scored against a baseline "
                            f"fitted on the data at hand; train one with `secaware models train`")
    report.adhoc["request"] = adhoc
    report.baseline["request"] = baseline
    parts = []
    if profile is not None:
        report.request_threshold = profile.threshold_
        slices = _slices(events.filter(scope))
        total, done_n = sum(n for *_, n in slices), 0
        for lo, hi, n in slices:
            frame = _requests(events.filter(pl.col("event_id").is_between(lo, hi) & scope)).collect()
            if frame.height == 0:
                continue
            scored = profile.score(frame, in_sample=adhoc, explain_at=profile.threshold_)
            frame = frame.with_columns(scored.select("endpoint", "score", "scored", "explanation", "deviations"))
            report.requests += int(frame["scored"].sum())
            report.requests_unscored += int((~frame["scored"]).sum())
            keep = frame if keep_all else frame.filter(pl.col("score") >= profile.threshold_)
            report.request_anomalies += int((keep["score"] >= profile.threshold_).sum())
            rows = keep.with_columns(
                pl.concat_str([pl.lit("r-"), pl.col("event_id").cast(pl.String)]).alias("anomaly_id"),
                pl.lit("request").alias("kind"), pl.lit("request").alias("model"),
                pl.lit("ip").alias("entity_type"), pl.col("src_ip").alias("entity"),
                pl.col("ts").alias("window_start"), pl.col("ts").alias("window_end"),
                pl.lit(profile.threshold_).alias("threshold"),
                (pl.col("score") >= profile.threshold_).alias("is_anomaly"),
                pl.col("site").alias("system"), pl.lit(1, dtype=pl.Int64).alias("events"),
                pl.lit(baseline).alias("baseline"), pl.lit(adhoc).alias("adhoc"),
                pl.lit(detected_at, dtype=UTC_TS).alias("detected_at"))
            parts.append(store.stage(ANOMALIES, _finish(_attribute(rows, inv))))
            done_n += n
            if progress:
                progress("anomalies: requests", done_n, total)
    store.commit(ANOMALIES, parts, app_id=APP_REQUEST, batch_id=max_batch)


def _behaviour_level(store: Store, events: pl.LazyFrame, done: int, max_batch: int, loaded: Any, models_dir: Path,
                     keep_all: bool, tz: str | None, contamination: float, inv: Any,
                     detected_at: dt.datetime, report: AnomalyReport) -> None:
    new = events.filter(pl.col("batch_id") > done)
    if loaded is not None:
        bundle, card, notes = loaded
        report.notes += notes
        zone = tz or bundle.tz
        adhoc, baseline = False, _describe(card, models_dir / MODEL_FILES["behaviour"])
        frames: dict[str, pl.DataFrame] = {}
    else:
        zone = tz or DEFAULT_TZ
        first, last, n = _period(store, pl.lit(True))
        sets, frames = _fit_behaviour(events, first, last, zone, contamination, []) if n else ({}, {})
        bundle = BehaviourBundle(sets, zone, (None, None))
        adhoc = True
        baseline = (f"none trained (no {MODEL_FILES['behaviour']} in {models_dir}): fitted on the {n:,} events in the "
                    f"store, each window compared with the others")
        report.notes.append(f"no trained behaviour model in {models_dir}: windows were scored against a baseline "
                            f"fitted on the data at hand; train one with `secaware models train`")
    report.adhoc["behaviour"] = adhoc
    report.baseline["behaviour"] = baseline
    parts, deletes = [], []
    for fs in FEATURE_SETS.values():
        model = bundle.sets.get(fs.name)
        if model is None:
            continue
        touched = new.filter(fs.where()).select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")
                                                ).collect().row(0)
        if touched[0] is None:
            continue
        days = _days(touched[0], touched[1], zone)
        lo, hi = days[0][0], days[-1][1]
        if adhoc:
            frame = frames[fs.name].filter((pl.col("window_start") >= lo) & (pl.col("window_start") < hi))
        else:
            frame, _ = _walk(events, fs, zone, lo, hi - dt.timedelta(microseconds=1), known=model.known)
        if frame.height == 0:
            continue
        scores = model.detector.decision_function(to_matrix(frame, fs), in_sample=adhoc)
        threshold = model.detector.threshold_
        frame = frame.with_columns(pl.Series("score", scores, dtype=pl.Float64))
        report.windows[fs.name] = frame.height
        keep = frame if keep_all else frame.filter(pl.col("score") >= threshold)
        report.behaviour_anomalies[fs.name] = int((keep["score"] >= threshold).sum())
        deletes.append(f"(model = '{fs.name}' AND window_start >= '{_sql_ts(lo)}' AND window_start < '{_sql_ts(hi)}')")
        if keep.height == 0:
            continue
        flagged = keep.filter(pl.col("score") >= threshold)
        texts, devs = explain_rows(flagged, model, fs, in_sample=adhoc)
        explained = flagged.select("entity", "window_start").with_columns(
            pl.Series("explanation", texts, dtype=pl.String),
            pl.Series("deviations", devs, dtype=schema(ANOMALIES)["deviations"]))
        keep = keep.join(explained, on=["entity", "window_start"], how="left")
        ids = [_behaviour_id(fs.name, e, w) for e, w in keep.select("entity", "window_start").iter_rows()]
        rows = keep.with_columns(
            pl.Series("anomaly_id", ids, dtype=pl.String), pl.lit("behaviour").alias("kind"),
            pl.lit(fs.name).alias("model"), pl.lit(fs.entity_type).alias("entity_type"),
            pl.lit(threshold).alias("threshold"), (pl.col("score") >= threshold).alias("is_anomaly"),
            pl.col("events").cast(pl.Int64), pl.lit(baseline).alias("baseline"), pl.lit(adhoc).alias("adhoc"),
            pl.lit(detected_at, dtype=UTC_TS).alias("detected_at"))
        rows = _attribute(rows, inv).with_columns(pl.lit(None, dtype=pl.String).alias("file"))  # file: requests only
        parts.append(store.stage(ANOMALIES, _finish(rows)))
    if deletes and store.exists(ANOMALIES):
        store.delete(ANOMALIES, "kind = 'behaviour' AND (" + " OR ".join(deletes) + ")")
    store.commit(ANOMALIES, parts, app_id=APP_BEHAVIOUR, batch_id=max_batch)


def _sql_ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _behaviour_id(model: str, entity: str, window_start: dt.datetime) -> str:
    key = f"{model}|{entity}|{window_start.isoformat()}"
    return "b-" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]
