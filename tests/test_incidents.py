"""Incidents from a real store: grouping, success signals, category, grade, scanners, stable ids and notes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware.cli import cli
from secaware.detect import detect
from secaware.incidents import add_note, incidents
from secaware.ingest import ingest
from tests.conftest import read_table

RULES = """
title: SQL injection
id: 3c000000-0000-4000-8000-000000000001
level: high
tags: [attack.initial-access, attack.t1190]
logsource: {category: webserver}
detection:
  sel: {cs-uri-query|contains: 'union select'}
  condition: sel
---
title: Web shell file requested
id: 3c000000-0000-4000-8000-000000000002
level: high
tags: [attack.persistence, attack.t1505.003]
logsource: {category: webserver}
detection:
  sel: {cs-uri-stem|endswith: '/upload/shell.jsp'}
  condition: sel
---
title: SSH failure
name: inc_ssh_failure
id: 3c000000-0000-4000-8000-000000000003
level: low
logsource: {product: linux, service: sshd}
detection:
  sel: {event_action: login_failed}
  condition: sel
---
title: SSH brute force
id: 3c000000-0000-4000-8000-000000000004
level: medium
tags: [attack.credential-access, attack.t1110.001]
correlation: {type: event_count, rules: [inc_ssh_failure], group-by: [src_ip], timespan: 5m, condition: {gte: 10}}
"""

INVENTORY = """
systems:
  - id: tw-portal
    name: 测试市人民政府门户网站
    prefecture: "620500"
    level: 3
    logs: ["logs/portal/**"]
    hosts: ["10.5.1.10"]
    scanners: ["10.9.9.9", "2409:8a62:3b6:4a00::/56"]
  - id: tw-oa
    name: 测试市协同办公系统
    prefecture: 天水市
    level: 2
    hosts: ["10.5.2.0/24", "tw-oa-01"]
"""

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))


def web(seconds: float, ip: str, path: str, query: str = "", status: int = 200, size: int = 5000) -> str:
    t = (T0 + dt.timedelta(seconds=seconds)).astimezone(CST).strftime("%d/%b/%Y:%H:%M:%S %z")
    target = path + ("?" + query if query else "")
    return f'{ip} - - [{t}] "GET {target} HTTP/1.1" {status} {size} "-" "Mozilla/5.0 (X11; Linux x86_64)"'


def ssh(seconds: float, text: str) -> str:
    t = (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{t}+00:00 tw-oa-01 sshd[4242]: {text}"


def append(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yml").write_text(RULES)
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    access = tmp_path / "logs" / "portal" / "access.log"
    lines = [web(k, f"198.51.100.{k % 50}", "/news/show.php", f"id={k}", size=5000 + k % 7) for k in range(60)]
    # a burst of injections, one of them answered with far more data than the page ever sends
    lines += [web(100 + k, "203.0.113.9", "/news/show.php", f"id=1%20union%20select%20{k},2--", size=5010)
              for k in range(5)]
    lines += [web(110, "203.0.113.9", "/news/show.php", "id=1%20union%20select%20name,pwd%20from%20users--",
                  size=84000)]
    # the same source five and a half hours later: a separate incident (the default gap is 4 h)
    lines += [web(20000, "203.0.113.9", "/news/show.php", "id=2%20union%20select%201--", status=404, size=200)]
    # the authorized scanner fires the same rule and opens nothing
    lines += [web(200 + k, "10.9.9.9", "/news/show.php", "id=1%20union%20select%201--") for k in range(3)]
    # and so does the one scanning from an IPv6 range (a /56: no multiple of 16 bits; `::` in its addresses)
    lines += [web(210 + k, address, "/news/show.php", "id=1%20union%20select%201--")
              for k, address in enumerate(["2409:8a62:3b6:4ad7::9", "2409:8a62:3b6:4a00::"])]
    # a web shell that answers
    lines += [web(500, "45.77.1.2", "/upload/shell.jsp", "cmd=whoami", status=200, size=31)]
    append(access, lines)
    auth = tmp_path / "logs" / "oa" / "auth.log"
    append(auth, [ssh(1000 + 5 * k, f"Failed password for oaadmin from 61.177.172.140 port {50000 + k} ssh2")
                  for k in range(12)]
           + [ssh(1100, "Accepted password for oaadmin from 61.177.172.140 port 50100 ssh2")])
    store = tmp_path / "store"
    ingest([tmp_path / "logs"], store, settle_seconds=0)
    detect(store, [tmp_path / "rules"])
    return {"store": store, "inventory": tmp_path / "inventory.yaml", "access": access, "rules": tmp_path / "rules",
            "logs": tmp_path / "logs"}


def table(store: Path) -> pl.DataFrame:
    return read_table(store, "incidents").sort("first_ts")


def test_alerts_become_few_incidents_with_success_signals_category_and_grade(world) -> None:
    report = incidents(world["store"], inventory=world["inventory"])
    got = table(world["store"])
    assert report.suppressed == 5  # the scanners' alerts
    assert got.select("actor", "system", "alerts").rows() == [
        ("203.0.113.9", "tw-portal", 6), ("45.77.1.2", "tw-portal", 1), ("61.177.172.140", "tw-oa", 1),
        ("203.0.113.9", "tw-portal", 1)]
    sqli, shell, brute, later = got.iter_rows(named=True)
    assert sqli["success"] and "answered 200 with 84000 bytes" in sqli["success_evidence"]
    assert (sqli["severity"], sqli["grade"]) == ("critical", "待研判")  # high, raised by the success sign
    assert (sqli["category"], sqli["subcategory"], sqli["stage"]) == ("网络攻击事件", "漏洞利用事件", "initial-access")
    assert sqli["prefecture"] == "620500" and sqli["system_name"] == "测试市人民政府门户网站"
    assert sqli["protection_level"] == 3 and sqli["rule_counts"][0]["count"] == 6
    assert shell["subcategory"] == "后门利用事件" and "web shell /upload/shell.jsp answered 200" in \
        shell["success_evidence"]
    assert brute["subcategory"] == "口令暴力破解事件" and brute["severity"] == "high"
    assert "successful login as oaadmin on tw-oa-01" in brute["success_evidence"]
    assert brute["events"] == 12 and brute["protection_level"] == 2
    assert (later["success"], later["grade"], later["severity"]) == (False, "一般", "high")
    assert set(got["status"]) == {"new"}


def test_a_rerun_keeps_ids_and_notes_and_marks_what_grew(world) -> None:
    incidents(world["store"], inventory=world["inventory"])
    first = table(world["store"])
    sqli_id = first["incident_id"][0]
    add_note(world["store"], sqli_id, "已通知门户网站运维", status="investigating")
    # the same attacker goes on within the gap; the rule run and incident run again
    append(world["access"], [web(115, "203.0.113.9", "/news/show.php", "id=9%20union%20select%209--")])
    ingest([world["logs"]], world["store"], settle_seconds=0)
    detect(world["store"], [world["rules"]])
    incidents(world["store"], inventory=world["inventory"])
    second = table(world["store"])
    assert second["incident_id"].to_list() == first["incident_id"].to_list()
    grown = second.filter(pl.col("incident_id") == sqli_id).row(0, named=True)
    assert grown["alerts"] == 7 and grown["status"] == "investigating" and "已通知门户网站运维" in grown["notes"]
    others = second.filter(pl.col("incident_id") != sqli_id)
    assert set(others["status"]) == {"seen"}


def test_gap_is_configurable_and_cli_reports(world) -> None:
    out = CliRunner().invoke(cli, ["incidents", "--store", str(world["store"]), "--inventory",
                                   str(world["inventory"]), "--gap", "6h"])
    assert out.exit_code == 0, out.output
    assert "3 incidents (3 new, 0 updated)" in out.output
    bad = CliRunner().invoke(cli, ["incidents", "--store", str(world["store"]), "--gap", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output
    note = CliRunner().invoke(cli, ["incidents", "note", "--store", str(world["store"]), "INC-NOPE", "x"])
    assert note.exit_code == 1 and "no incident 'INC-NOPE'" in note.output


def test_anomalies_join_incidents_and_behaviour_anomalies_open_their_own(world) -> None:
    """A behaviour anomaly of a source no rule fired on opens an 异常行为事件 incident; one with no system
    joins the incident its source has against a system; a single odd request and the scanner open nothing."""
    from secaware.schema import ANOMALIES, conform
    from secaware.store import Store

    def anomaly(aid: str, kind: str, entity: str, minute: int, system: str | None) -> dict:
        start = T0 + dt.timedelta(minutes=minute)
        return {"anomaly_id": aid, "kind": kind, "entity_type": "ip", "entity": entity, "window_start": start,
                "window_end": start + dt.timedelta(hours=1), "score": 4.2, "is_anomaly": True,
                "explanation": "distinct ports 412 (typical 1)", "system": system, "events": 412}

    rows = pl.DataFrame([
        anomaly("a1", "behaviour", "198.51.100.200", 30, "tw-oa"),   # exfiltration-like: no rule saw it
        anomaly("a2", "behaviour", "203.0.113.9", 1, None),          # the injector's firewall trail
        anomaly("a3", "request", "198.51.100.201", 40, "tw-portal"),  # one odd request
        anomaly("a4", "behaviour", "10.9.9.9", 5, "tw-portal"),       # the authorized scanner
    ]).with_columns(pl.col("window_start", "window_end").dt.cast_time_unit("us"))
    Store(world["store"]).append(ANOMALIES, conform(rows, ANOMALIES).collect(), app_id="test", batch_id=0)
    report = incidents(world["store"], inventory=world["inventory"])
    got = table(world["store"])
    assert report.anomalies == 4
    alone = got.filter(pl.col("actor") == "198.51.100.200").row(0, named=True)
    assert (alone["category"], alone["subcategory"], alone["severity"]) == ("异常行为事件", "异常访问行为事件", "medium")
    injector = got.filter((pl.col("actor") == "203.0.113.9") & (pl.col("first_ts") < T0 + dt.timedelta(hours=1)))
    assert injector.height == 1 and injector["alerts"][0] == 7 and injector["system"][0] == "tw-portal"
    assert not got["actor"].is_in(["198.51.100.201", "10.9.9.9"]).any()


def test_an_ipv6_attacker_rotating_within_its_64_is_one_incident_and_its_login_counts(tmp_path: Path) -> None:
    """Each request of an injection, each SSH guess, from another address of one /64: one incident per
    attack, not one per address, and a login from yet another address of it is the brute force's success.
    An incident written when actors were addresses keeps its id and notes, and the notes of two such
    incidents the /64 now joins are both kept."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yml").write_text(RULES.replace("group-by: [src_ip]", "group-by: [src_net]"))
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    net = "240e:3cc:e12b:b5f6"  # outside the scanner range of INVENTORY
    append(tmp_path / "logs" / "portal" / "access.log",
           [web(k, f"198.51.100.{k}", "/news/show.php", f"id={k}") for k in range(10)]
           + [web(100 + k, f"{net}:{k + 1:x}::{k * 211 + 5:x}", "/news/show.php", f"id=1%20union%20select%20{k}--")
              for k in range(6)])
    append(tmp_path / "logs" / "oa" / "auth.log",
           [ssh(1000 + 5 * k, f"Failed password for oaadmin from {net}::{k + 100:x} port {50000 + k} ssh2")
            for k in range(12)] + [ssh(1100, f"Accepted password for oaadmin from {net}:ffff::1 port 50100 ssh2")])
    store = tmp_path / "store"
    ingest([tmp_path / "logs"], store, settle_seconds=0)
    detect(store, [tmp_path / "rules"])
    incidents(store, inventory=tmp_path / "inventory.yaml")
    got = table(store)
    assert got.select("actor", "system", "alerts").rows() == [(f"{net}::/64", "tw-portal", 6),
                                                             (f"{net}::/64", "tw-oa", 1)]
    brute = got.row(1, named=True)
    assert brute["success"] and "successful login as oaadmin on tw-oa-01" in brute["success_evidence"]

    # as an older version wrote them: one incident per address, two of them with notes
    sqli = got.row(0, named=True)
    old = pl.concat([got.slice(0, 1).with_columns(pl.lit(f"{net}:1::5").alias("actor"),
                                                  pl.lit("[a] 已封禁第一个地址").alias("notes"),
                                                  pl.lit("investigating").alias("status")),
                     got.slice(0, 1).with_columns(pl.lit(f"{net}:2::da").alias("actor"),
                                                  pl.lit("INC-OLDSECOND").alias("incident_id"),
                                                  pl.lit("[b] 第二个地址也已封禁").alias("notes"),
                                                  (pl.col("first_ts") + dt.timedelta(seconds=1)).alias("first_ts")),
                     got.slice(1, 1)])
    from secaware.schema import INCIDENTS
    from secaware.store import Store
    Store(store).replace(INCIDENTS, old)
    incidents(store, inventory=tmp_path / "inventory.yaml")
    again = table(store).row(0, named=True)
    assert (again["incident_id"], again["actor"], again["status"]) == (sqli["incident_id"], f"{net}::/64",
                                                                       "investigating")
    assert again["notes"] == "[a] 已封禁第一个地址\n[b] 第二个地址也已封禁"
