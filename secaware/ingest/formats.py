"""The registry of log formats: a name, how to recognise a file, how to parse its lines.

Adding a format is adding one module and one entry here. File formats are recognised from a
file's first lines; message formats (sshd, firewalls...) live inside syslog files and are found
per line, but can be forced for a whole file with --format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from secaware.ingest import access_log, iis, suricata, syslog
from secaware.ingest._common import FileContext

SNIFF_LINES = 50
SNIFF_THRESHOLD = 0.6


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    parse: Callable[[pl.DataFrame, FileContext], pl.DataFrame]
    sniff: Callable[[list[str]], float] | None = None


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("combined", "nginx/Apache combined access log (optional trailing X-Forwarded-For)",
               access_log.parse, access_log.sniff_combined),
        Format("common", "nginx/Apache common access log", access_log.parse, access_log.sniff_common),
        Format("iis", "IIS W3C extended log (fields from the #Fields: header; UTC)", iis.parse, iis.sniff),
        Format("suricata", "Suricata EVE JSON (alert, http, dns, flow... records)", suricata.parse,
               suricata.sniff),
        Format("syslog", "syslog (RFC 3164, RFC 5424, RFC 3339) with sshd, PAM, firewall and other messages",
               syslog.parse, syslog.sniff),
    )
}
for _m in syslog.message_formats():
    FORMATS[_m.name] = Format(_m.name, f"{_m.description} (inside syslog lines)", syslog.parse)

ALIASES = {"nginx": "combined", "apache": "combined", "w3c": "iis", "eve": "suricata", "ssh": "sshd"}


def resolve(name: str) -> Format | None:
    key = name.strip().lower()
    return FORMATS.get(ALIASES.get(key, key))


def sniff(lines: list[str]) -> tuple[str | None, float]:
    """The file format that recognises most of the sample lines, if it recognises enough of them."""
    sample = [x for x in lines if x.strip()][:SNIFF_LINES]
    if not sample:
        return None, 0.0
    best, score = None, 0.0
    for fmt in FORMATS.values():
        if fmt.sniff is None:
            continue
        s = fmt.sniff(sample)
        if s > score:
            best, score = fmt.name, s
    return (best, score) if score >= SNIFF_THRESHOLD else (None, score)
