"""Plain-text summaries and progress for the terminal (stdout stays short; progress goes to stderr)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from secaware.ingest.pipeline import IngestReport, ProgressFn
from secaware.visible import visible

if TYPE_CHECKING:
    from secaware.detect.pipeline import DetectReport
    from secaware.detect.rules import Compilation
    from secaware.nightly import RunReport

#: Show a progress bar only for inputs at least this big, and only on a terminal.
PROGRESS_MIN_BYTES = 64 << 20


def ingest_summary(report: IngestReport) -> str:
    """One line per file (format, lines, events, rejects, skipped), then totals."""
    rows = [("file", "status", "format", "lines", "events", "rejects", "skipped")]
    for f in report.files:
        rows.append((f.path, f.status, f.format or "-", f"{f.lines:,}", f"{f.events:,}", f"{f.rejects:,}",
                     f"{f.skipped:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2])]
        cells += [r[i].rjust(widths[i]) for i in range(3, len(r))]
        lines.append("  ".join(cells).rstrip())
    t = report.totals()
    lines.append(
        f"{len(report.files)} files: {t['lines']:,} lines read, {t['events']:,} events, {t['rejects']:,} rejects, "
        f"{t['skipped']:,} skipped, {len(report.errors)} errors in {report.seconds:.1f}s; store {report.store}")
    if report.recovered_rows:
        lines.append(f"removed {report.recovered_rows:,} rows left by an interrupted run")
    return "\n".join(lines)


LEVELS = ("critical", "high", "medium", "low", "informational")

def safe(value: object, width: int | None = None) -> str:
    """Text from the store made safe to print: controls shown as escapes, long values cut with a mark."""
    text = "" if value is None else str(value)
    text = visible(text.replace("\n", "\\n").replace("\t", " "))
    if width is not None and len(text) > width:
        text = text[: max(width - 1, 1)] + "…"
    return text


def table(frame: pl.DataFrame, *, max_width: int = 80, max_rows: int | None = None) -> str:
    """A plain aligned table of any frame, every cell passed through `safe`."""
    rows = frame.head(max_rows) if max_rows is not None else frame
    cells = [[safe(c) for c in frame.columns]]
    for row in rows.iter_rows():
        cells.append([safe(v if not isinstance(v, float) else round(v, 4), max_width) for v in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(frame.columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if max_rows is not None and frame.height > max_rows:
        lines.append(f"... {frame.height - max_rows:,} more rows")
    return "\n".join(lines)


def detect_summary(report: DetectReport) -> str:
    """What was scored, what was found by level, what was left out."""
    if report.nothing_new:
        return f"no new events to score; store {report.store}"
    levels = ", ".join(f"{report.by_level[lv]:,} {lv}" for lv in (*LEVELS, "unknown") if report.by_level.get(lv))
    scope = ("window " + " .. ".join(w or "" for w in report.window)) if report.window else "new events"
    lines = [
        f"scored {report.events:,} {scope} with {report.rules} rules and {report.correlations} correlations "
        f"in {report.seconds:.1f}s",
        f"{report.alerts:,} alerts ({levels or 'none'}), {report.correlation_alerts:,} from correlations, "
        f"{report.suppressed:,} suppressed by the allowlist; store {report.store}",
    ]
    if report.failed:
        lines.append(f"{len(report.failed)} rules not used (see `secaware rules check`)")
    return "\n".join(lines)


def run_summary(report: RunReport) -> str:
    """A few lines: what each stage read and found, where the report is, and the outcome."""
    lines = []
    for st in report.stages:
        if st.error:
            lines.append(f"{st.name:10} FAILED after {st.seconds:.1f}s: {st.error}")
            continue
        facts = ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int) and not isinstance(v, bool)
                          else f"{k.replace('_', ' ')}: {', '.join(map(str, v))}" if isinstance(v, list)
                          else f"{k.replace('_', ' ')}" for k, v in st.summary.items()
                          if v not in (False, None, 0) and v != [])
        lines.append(f"{st.name:10} {st.seconds:6.1f}s  {facts or 'nothing new'}")
    if report.fail_on:
        lines.append(f"{report.failing_incidents} new or updated incidents at or above {report.fail_on}")
    lines.append(f"done in {report.seconds:.1f}s, exit code {report.exit_code}; store {report.store}")
    if report.report_path:
        lines.append(f"report: {report.report_path}")
    return "\n".join(lines)


def rules_check_summary(comp: Compilation) -> str:
    """Per file: rules loaded, converted, failed with the reason; then totals."""
    converted: dict[str, int] = {}
    for r in [*comp.rules, *comp.correlations]:
        converted[r.file or "?"] = converted.get(r.file or "?", 0) + 1
    failed: dict[str, list[str]] = {}
    for f, reason in comp.failed:
        failed.setdefault(f, []).append(reason)
    lines = []
    for f in sorted(set(comp.files) | set(converted) | set(failed)):
        n_ok, bad = converted.get(f, 0), failed.get(f, [])
        status = "failed" if bad else "ok"
        lines.append(f"{status:6}  {f}: {n_ok + len(bad)} rules, {n_ok} converted")
        lines += [f"        reason: {reason}" for reason in bad]
    total = len(comp.rules) + len(comp.correlations)
    lines.append(f"{total + len(comp.failed)} rules in {len(comp.files)} files: {total} converted "
                 f"({len(comp.correlations)} correlations), {len(comp.failed)} failed")
    return "\n".join(lines)


@contextlib.contextmanager
def progress_bar() -> Iterator[ProgressFn | None]:
    """A rich progress bar on stderr when it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(path: str, done: int, total: int) -> None:
            if total < PROGRESS_MIN_BYTES:
                return
            if path not in tasks:
                tasks[path] = bar.add_task(path.rsplit("/", 1)[-1][:40], total=total)
            bar.update(tasks[path], completed=min(done, total))

        yield update
