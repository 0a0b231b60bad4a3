"""Plain-text summaries and progress for the terminal (stdout stays short; progress goes to stderr)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from secaware.ingest.pipeline import IngestReport, ProgressFn

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
