"""The ingest stage: files in, events and rejects out, exactly once.

Work is grouped in batches. A batch writes Parquet files for events and rejects as it goes
(bounded memory) and then commits, in this order: events, rejects, ingest_log. Each commit is
atomic and carries the batch id as a Delta transaction version, so the ingest_log commit is the
point of no return: a run killed before it leaves rows whose batch the log does not know, and
the next run deletes exactly those before it starts (`_recover`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from secaware import prefectures
from secaware.addresses import canonical
from secaware.errors import IngestError, Location, UnknownFormatError
from secaware.ingest import reader
from secaware.ingest._common import ADDRESS_COLUMNS, REJECT, SKIP, FileContext
from secaware.ingest.checkpoint import CheckpointIndex, FileState, log_frame
from secaware.ingest.formats import FORMATS, resolve, sniff
from secaware.schema import EVENTS, INGEST_LOG, REJECTS, conform
from secaware.store import Store

APP_ID = "secaware-ingest"
EVENT_ID_SHIFT = 24
#: Commit at least this often, so a long run killed late loses little work. Capped well below
#: 2**EVENT_ID_SHIFT so a batch's row numbers always fit beside its id in event_id.
COMMIT_LINES = min(int(os.environ.get("SECAWARE_COMMIT_LINES", 2_000_000)), 8_000_000)
#: Write buffered rows to a Parquet file once they take this much memory.
PART_BYTES = 96 << 20
#: Parquet parts being written in the background while parsing goes on.
WRITES_IN_FLIGHT = 1
#: An unterminated last line of a plain file is read only once the file has been quiet this long.
SETTLE_SECONDS = 60

#: Files in collector directories that are not logs (documentation, inventories, label files).
IGNORED_SUFFIXES = {".md", ".rst", ".yaml", ".yml", ".toml", ".csv", ".py", ".sh", ".html", ".pdf", ".png",
                    ".jpg", ".zip", ".tar", ".pyc", ".ini", ".cfg"}

ProgressFn = Callable[[str, int, int], None]


@dataclass
class FileResult:
    """What happened to one input file."""

    path: str
    status: str  # new, appended, rotated, unchanged, empty, ignored, error
    format: str | None = None
    encoding: str | None = None
    lines: int = 0
    events: int = 0
    rejects: int = 0
    skipped: int = 0
    first_line: int | None = None
    error: str | None = None
    sources: Counter[str] = field(default_factory=Counter)
    reject_reasons: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("sources", "reject_reasons")}
        d["sources"] = dict(self.sources)
        d["reject_reasons"] = dict(self.reject_reasons.most_common(10))
        return d


@dataclass
class IngestReport:
    store: str
    files: list[FileResult]
    batches: list[int]
    recovered_rows: int
    seconds: float

    @property
    def errors(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "error"]

    def totals(self) -> dict[str, int]:
        return {k: sum(getattr(f, k) for f in self.files) for k in ("lines", "events", "rejects", "skipped")}

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "seconds": round(self.seconds, 3), "batches": self.batches,
                "recovered_rows": self.recovered_rows, "totals": self.totals(), "errors": len(self.errors),
                "files": [f.as_dict() for f in self.files]}


class _Batch:
    """Rows and file segments on their way to one atomic commit.

    Parquet files are written by one background thread while the next chunks are parsed (Polars
    releases the GIL, so the two cores overlap); at most WRITES_IN_FLIGHT parts wait in memory.
    """

    def __init__(self, store: Store, batch_id: int, writer: ThreadPoolExecutor) -> None:
        self.store = store
        self.writer = writer
        self._reset(batch_id)

    def _reset(self, batch_id: int) -> None:
        self.batch_id = batch_id
        self.events: list[pl.DataFrame] = []
        self.rejects: list[pl.DataFrame] = []
        self.buffered = 0
        self.writes: list[tuple[str, Future[Any]]] = []
        self.segments: list[dict[str, Any]] = []
        self.rows = 0
        self.lines = 0

    def add(self, events: pl.DataFrame, rejects: pl.DataFrame) -> None:
        events = events.with_columns(canonical(events[c]) for c in ADDRESS_COLUMNS if c in events.columns)
        self.events.append(conform(events, EVENTS).collect())
        self.rejects.append(conform(rejects, REJECTS).collect())
        self.rows += events.height
        self.buffered += events.estimated_size() + rejects.estimated_size()
        if self.buffered >= PART_BYTES:
            self.flush()

    def flush(self) -> None:
        for table, frames in ((EVENTS, self.events), (REJECTS, self.rejects)):
            frames = [f for f in frames if f.height]
            if frames:
                self.writes.append((table, self.writer.submit(self.store.stage, table, pl.concat(frames))))
        self.events, self.rejects, self.buffered = [], [], 0
        running = [f for _, f in self.writes if not f.done()]
        if len(running) > WRITES_IN_FLIGHT:
            wait(running[: len(running) - WRITES_IN_FLIGHT])

    def staged(self, table: str) -> list[Any]:
        """The add actions of every part written for table (waits for writes in flight)."""
        return [f.result() for t, f in self.writes if t == table]

    def commit(self) -> int | None:
        """Commit what is pending and start the next batch; returns the committed batch id."""
        if not self.segments:
            return None
        self.flush()
        _fault("before_events_commit")
        events, rejects = self.staged(EVENTS), self.staged(REJECTS)
        self.store.commit(EVENTS, events, app_id=APP_ID, batch_id=self.batch_id)
        _fault("before_rejects_commit")
        self.store.commit(REJECTS, rejects, app_id=APP_ID, batch_id=self.batch_id)
        _fault("before_log_commit")
        now = dt.datetime.now(dt.UTC)
        rows = [{**s, "batch_id": self.batch_id, "ingested_at": now} for s in self.segments]
        self.store.append(INGEST_LOG, log_frame(rows), app_id=APP_ID, batch_id=self.batch_id)
        _fault("after_log_commit")
        committed = self.batch_id
        self._reset(committed + 1)
        return committed


def _fault(point: str) -> None:
    """Fault injection for the crash tests: SECAWARE_FAULT=<point> kills the process there."""
    if os.environ.get("SECAWARE_FAULT") == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _recover(store: Store) -> int:
    """Delete rows that a killed run committed to events/rejects but never logged."""
    logged = store.committed_batch(INGEST_LOG, APP_ID)
    floor = -1 if logged is None else logged
    removed = 0
    for table in (EVENTS, REJECTS):
        last = store.committed_batch(table, APP_ID)
        if last is not None and last > floor:
            removed += store.delete_batches_after(table, floor)
    return removed


def expand_paths(paths: Iterable[str | os.PathLike[str]],
                 exclude: Iterable[str | os.PathLike[str]] = ()) -> tuple[list[Path], list[FileResult]]:
    """Files named, and files found recursively under directories named (hidden and non-log files left out).

    Directories in exclude are not entered: another collector, with its own zone or prefecture, reads them.
    """
    files: list[Path] = []
    problems: list[FileResult] = []
    skip = {Path(e).absolute() for e in exclude}
    for p in paths:
        path = Path(p).absolute()
        if path.is_dir():
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root) / d not in skip)
                for name in names:
                    f = Path(root) / name
                    if name.startswith(".") or f.suffix.lower() in IGNORED_SUFFIXES:
                        continue
                    found.append(f)
            if not found:
                problems.append(FileResult(str(path), "error", error="directory holds no log files"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(FileResult(str(path), "error", error="no such file or directory"))

    def order(f: Path) -> tuple[int, str]:
        try:
            return f.stat().st_mtime_ns, str(f)
        except OSError:
            return 0, str(f)

    return sorted(dict.fromkeys(files), key=order), problems


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    store: Store | str | os.PathLike[str],
    *,
    format: str | None = None,
    prefecture: str | None = None,
    tz: str = "Asia/Shanghai",
    progress: ProgressFn | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> IngestReport:
    """Read log files into the store's events and rejects tables; the stage's one entry point.

    Every line read ends up as an event, a reject with its reason, or a counted blank/comment
    line. Files already read are skipped, grown files are read from where they stopped, and
    problems with one file are reported without stopping the others.
    """
    started = time.monotonic()
    store = store if isinstance(store, Store) else Store(store)
    forced = None
    if format is not None:
        forced = resolve(format)
        if forced is None:
            raise IngestError(f"unknown format {format!r}; known formats: {', '.join(FORMATS)}")
    pref_code = None
    if prefecture is not None:
        pref_code = prefectures.resolve(prefecture)
        if pref_code is None:
            raise IngestError(f"unknown prefecture {prefecture!r}; use a GB/T 2260 code such as 620100 "
                              "or a name such as 兰州市")
    store.ensure(EVENTS, REJECTS, INGEST_LOG)
    recovered = _recover(store)
    index = CheckpointIndex.load(store)
    files, results = expand_paths(paths, exclude)
    next_id = (store.committed_batch(INGEST_LOG, APP_ID) or 0) + 1
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="secaware-write") as writer:
        batch = _Batch(store, next_id, writer)
        batches = _read_all(files, results, batch, index, forced=forced.name if forced else None,
                            prefecture=pref_code, tz=tz, progress=progress, settle=settle_seconds)
    return IngestReport(str(store.root), results, batches, recovered, time.monotonic() - started)


def _read_all(files: list[Path], results: list[FileResult], batch: _Batch, index: CheckpointIndex,
              **options: Any) -> list[int]:
    """Read every file into batches, committing as they fill; returns the committed batch ids."""
    batches: list[int] = []
    for path in files:
        result = FileResult(str(path), "new")
        results.append(result)
        try:
            for _ in _read_file(path, result, batch, index, **options):
                committed = batch.commit()
                if committed is not None:
                    batches.append(committed)
        except IngestError as exc:
            result.status, result.error = "error", str(exc)
        except OSError as exc:
            result.status, result.error = "error", f"cannot read: {exc.strerror or exc}"
    committed = batch.commit()
    if committed is not None:
        batches.append(committed)
    return batches


def _read_file(path: Path, result: FileResult, batch: _Batch, index: CheckpointIndex, *, forced: str | None,
               prefecture: str | None, tz: str, progress: ProgressFn | None, settle: float):  # type: ignore[no-untyped-def]
    """Read one file into the batch, yielding after each chunk so the caller can commit."""
    st = path.stat()
    name = str(path)
    compression = reader.compression_of(path)
    if compression is not None and index.completed(name, st.st_size, st.st_mtime_ns):
        result.status = "unchanged"
        return
    head = reader.read_head(path, compression)
    if not head:
        result.status = "empty"
        return
    known = index.find(name, head)
    if known is not None:
        start_offset, start_line, state = known.end_offset, known.end_line, dict(known.state)
        fmt_name, encoding = forced or known.format, known.encoding
        if compression is None and st.st_size <= start_offset:
            result.status, result.format, result.encoding = "unchanged", fmt_name, encoding
            return
        result.status = "appended" if known.file == name else "rotated"
    else:
        start_offset, start_line, state = 0, 0, {}
        encoding = reader.detect_encoding(head)
        fmt_name = forced
        if fmt_name is None:
            lines = reader.sniff_sample(path, compression, head, encoding)
            fmt_name, _ = sniff(lines)
            if fmt_name is None:
                first = lines[0][:200] if lines else ""
                raise UnknownFormatError(
                    f"cannot tell the format from the first lines (first line: {first!r}); known formats: "
                    f"{', '.join(FORMATS)}; name one with --format", source=Location(name))
    fmt = FORMATS[fmt_name]
    result.format, result.encoding = fmt_name, encoding
    final = compression is not None or (time.time() - st.st_mtime) >= settle
    ctx = FileContext(path=name, format=fmt_name, tz=tz, prefecture=prefecture or prefectures.from_path(name),
                      mtime=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC), state=state)
    fp, fp_len = reader.fingerprint(head)
    seg_start_offset, seg_start_line = start_offset, start_line
    counts = {"lines": 0, "events": 0, "rejects": 0, "skipped": 0}
    end_offset, end_line = start_offset, start_line

    def close_segment(complete: bool) -> None:
        nonlocal seg_start_offset, seg_start_line, counts
        if end_offset == seg_start_offset and not complete:
            return
        batch.segments.append({
            "file": name, "fingerprint": fp, "fp_len": fp_len, "start_offset": seg_start_offset,
            "end_offset": end_offset, "start_line": seg_start_line + 1, "end_line": end_line, **counts,
            "format": fmt_name, "encoding": encoding, "prefecture": ctx.prefecture, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "complete": complete, "state": json.dumps(ctx.state),
        })
        index.update(FileState(name, fp, fp_len, end_offset, end_line, fmt_name, encoding, st.st_size,
                               st.st_mtime_ns, complete, dict(ctx.state)))
        seg_start_offset, seg_start_line = end_offset, end_line
        counts = {"lines": 0, "events": 0, "rejects": 0, "skipped": 0}

    newline = reader.detect_newline(head)
    chunks = reader.iter_chunks(path, compression, start_offset=start_offset, start_line=start_line,
                                encoding=encoding, newline=newline, final=final)
    try:
        for chunk in chunks:
            if result.first_line is None:
                result.first_line = start_line + 1
            ctx.chunk_text = chunk.text
            parsed = fmt.parse(chunk.lines, ctx)
            ctx.chunk_text = None
            events, rejects, skipped = _split(parsed, ctx, batch)
            batch.add(events, rejects)
            n = chunk.lines.height
            batch.lines += n
            for key, value in (("lines", n), ("events", events.height), ("rejects", rejects.height),
                               ("skipped", skipped)):
                counts[key] += value
                setattr(result, key, getattr(result, key) + value)
            if events.height:
                result.sources.update(dict(events["source"].value_counts().iter_rows()))
            if rejects.height:
                result.reject_reasons.update(
                    dict(rejects["reason"].str.slice(0, 80).value_counts().iter_rows()))
            end_offset, end_line = chunk.end_offset, chunk.end_line
            if progress is not None:
                progress(name, end_offset, st.st_size)
            if batch.lines >= COMMIT_LINES:
                close_segment(False)
                yield
    except IngestError:
        close_segment(False)
        raise
    close_segment(compression is not None)
    if result.lines == 0 and result.status in ("appended", "rotated"):
        result.status = "unchanged"


def _split(parsed: pl.DataFrame, ctx: FileContext, batch: _Batch) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Events, rejects and the number of skipped lines of one parsed chunk, with their origin."""
    is_event = pl.col(REJECT).is_null() & ~pl.col(SKIP)
    base = (batch.batch_id << EVENT_ID_SHIFT) + batch.rows
    events = parsed.filter(is_event).with_columns(
        (pl.int_range(0, pl.len(), dtype=pl.Int64) + base).alias("event_id"),
        pl.lit(ctx.path).alias("file"),
        pl.lit(ctx.prefecture, dtype=pl.String).alias("prefecture"),
        pl.lit(batch.batch_id, dtype=pl.Int64).alias("batch_id"),
    ).drop(REJECT, SKIP, "warning")
    rejects = parsed.filter(pl.col(REJECT).is_not_null()).select(
        pl.lit(ctx.path).alias("file"), "line_no", "raw", pl.col(REJECT).alias("reason"),
        pl.lit(ctx.format).alias("format"), pl.lit(ctx.prefecture, dtype=pl.String).alias("prefecture"),
        pl.lit(batch.batch_id, dtype=pl.Int64).alias("batch_id"),
    )
    skipped = int(parsed[SKIP].sum())
    return events, rejects, skipped
