"""The two ground-truth files: planted lines, and planted behaviours with their time windows.

Line labels let a rule be scored per line; behaviour labels let correlation and anomaly detectors
(which find actors and windows, not lines) be scored too.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from secaware.samples.clock import iso_utc
from secaware.samples.model import Behaviour


def write_labels(out: Path, lines: list[tuple[str, int, str, str]], behaviours: list[Behaviour]) -> None:
    """Write `labels.csv` and `labels_behaviour.csv` (UTF-8, `\\n` line ends, stable order)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("file", "line_no", "scenario", "detail"))
    w.writerows(sorted(lines, key=lambda r: (r[0], r[1])))
    (out / "labels.csv").write_text(buf.getvalue(), encoding="utf-8")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("entity_type", "entity", "window_start", "window_end", "scenario", "detail"))
    for b in sorted(behaviours, key=lambda b: (b.start, b.scenario, b.entity)):
        w.writerow((b.entity_type, b.entity, iso_utc(b.start), iso_utc(b.end), b.scenario, b.detail))
    (out / "labels_behaviour.csv").write_text(buf.getvalue(), encoding="utf-8")
