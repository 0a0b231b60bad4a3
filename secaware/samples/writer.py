"""Turn the bundle into files: order lines as devices write them, rotate, gzip, encode, number.

Line numbers for labels are assigned here, after sorting and rotation, so they always match the
physical lines a reader (or ingest) will count, headers and comment lines included.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from secaware.samples.auth import format_syslog
from secaware.samples.clock import BEIJING, utc
from secaware.samples.fwformat import format_session
from secaware.samples.ids import dumps
from secaware.samples.model import Bundle, Label
from secaware.samples.topology import Site
from secaware.samples.webformat import format_request, iis_filename, iis_header


@dataclass
class OutFile:
    """Lines of one output file before numbering: (write time, order, text, label)."""

    rel: str
    encoding: str = "utf-8"
    newline: str = "\n"
    entries: list[tuple[datetime, int, str, Label | None]] = field(default_factory=list)
    restart_mid: bool = False

    def add(self, when: datetime, text: str, label: Label | None) -> None:
        self.entries.append((when, len(self.entries), text, label))


@dataclass
class Written:
    line_counts: dict[str, int]
    labels: list[tuple[str, int, str, str]]
    total_bytes: int


def _web_files(site: Site, bundle: Bundle, start: date, days: int) -> list[OutFile]:
    files: dict[str, OutFile] = {}
    last = start + timedelta(days=days - 1)
    for system in site.systems:
        base = f"{site.dirname}/{system.id}"
        for req in bundle.web.get(system.id, []):
            when = req.ts + timedelta(milliseconds=req.millis)
            if system.web == "iis":
                rel = f"{base}/W3SVC1/{iis_filename(utc(when).date())}"
                f = files.setdefault(rel, OutFile(rel, newline="\r\n", restart_mid=utc(when).date() == start))
            else:
                age = max(0, (last - when.astimezone(BEIJING).date()).days)
                name = "access.log" if age == 0 else f"access.log.{age}" + (".gz" if age >= 2 else "")
                f = files.setdefault(f"{base}/{name}", OutFile(f"{base}/{name}"))
            f.add(when, format_request(req, system.web, system.hosts[0].ip), req.label)
    return list(files.values())


def _number(f: OutFile) -> tuple[list[str], list[tuple[str, int, str, str]]]:
    entries = sorted(f.entries, key=lambda e: (e[0], e[1]))
    lines: list[str] = []
    labels = []
    iis = f.rel.split("/")[-1].startswith("u_ex")
    restart_at = len(entries) // 2 if f.restart_mid else -1
    if iis and entries:
        lines += iis_header(entries[0][0])
    for i, (when, _, text, label) in enumerate(entries):
        if i == restart_at:
            lines += iis_header(when)
        lines.append(text)
        if label is not None:
            labels.append((f.rel, len(lines), label.scenario, label.detail))
    return lines, labels


def _write(out: Path, f: OutFile) -> tuple[int, int, list[tuple[str, int, str, str]]]:
    lines, labels = _number(f)
    data = (f.newline.join(lines) + f.newline).encode(f.encoding) if lines else b""
    path = out / f.rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if f.rel.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=buf, mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    path.write_bytes(data)
    return len(lines), len(data), labels


def write_logs(out: Path, sites: tuple[Site, ...], bundle: Bundle, start: date, days: int) -> Written:
    """Write every log file under `out`; return line counts, label rows and the bytes written."""
    files: list[OutFile] = []
    nat = {h.ip: sy.public_ip for s in sites for sy in s.systems for h in sy.hosts}
    for site in sites:
        files += _web_files(site, bundle, start, days)
        for system in site.systems:
            if system.auth_file and bundle.auth.get(system.id):
                f = OutFile(f"{site.dirname}/{system.id}/{system.auth_file}")
                for m in bundle.auth[system.id]:
                    f.add(m.ts, format_syslog(m, system.rfc3164), m.label)
                files.append(f)
            if bundle.kern.get(system.id):
                f = OutFile(f"{site.dirname}/{system.id}/kern.log")
                for m in bundle.kern[system.id]:
                    f.add(m.ts, format_syslog(m, system.rfc3164), m.label)
                files.append(f)
        fw = OutFile(site.fw_file, encoding="gbk" if site.fw_vendor == "sangfor" else "utf-8")
        for s in bundle.fw.get(site.code, []):
            # Only the session line names the actor; a Sangfor 流量审计 follow-up names the local host.
            for i, (when, text) in enumerate(format_session(s, site, nat)):
                fw.add(when, text, s.label if i == 0 else None)
        files.append(fw)
    eve = OutFile("province/suricata/eve.json")
    for rec in bundle.eve:
        eve.add(rec.ts, dumps(rec), rec.label)
    files.append(eve)
    counts: dict[str, int] = {}
    all_labels: list[tuple[str, int, str, str]] = []
    total = 0
    for f in sorted(files, key=lambda f: f.rel):
        n, size, labels = _write(out, f)
        counts[f.rel] = n
        total += size
        all_labels += labels
    return Written(counts, all_labels, total)
