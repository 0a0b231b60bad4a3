"""Responder tools over a real store: query (read-only SQL), hunt (one entity's timeline), show."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware.cli import cli
from secaware.detect import detect
from secaware.errors import SecawareError
from secaware.hunt import hunt
from secaware.incidents import incidents
from secaware.ingest import ingest
from secaware.sql import query

RULE = """
title: SQL injection
id: 4d000000-0000-4000-8000-000000000001
level: high
tags: [attack.initial-access, attack.t1190]
logsource: {category: webserver}
detection:
  sel: {cs-uri-query|contains: 'union select'}
  condition: sel
"""
INVENTORY = """
systems:
  - id: tw-portal
    name: 测试门户
    prefecture: "620500"
    level: 3
    logs: ["logs/**"]
"""
T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
ESC = "\x1b"


def web(seconds: int, ip: str, query_text: str, ua: str = "Mozilla/5.0") -> str:
    t = (T0 + dt.timedelta(seconds=seconds)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    return (f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET /search?{query_text} HTTP/1.1" 200 900 "-" '
            f'"{ua}"')


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("responder")
    (root / "rules.yml").write_text(RULE)
    (root / "inventory.yaml").write_text(INVENTORY)
    logs = root / "logs"
    logs.mkdir()
    lines = [web(k, f"198.51.100.{k}", f"q=news{k}") for k in range(30)]
    # an attacker whose user agent tries to take over the responder's terminal
    lines += [web(100 + k, "203.0.113.66", f"id=1%20union%20select%20{k}--",
                  ua=f"{ESC}]0;pwned{ESC}\\\\{ESC}[2J{ESC}[31mEVIL\u202e") for k in range(3)]
    (logs / "access.log").write_text("".join(line + "\n" for line in lines))
    out = root / "store"
    ingest([logs], out, settle_seconds=0)
    detect(out, [root / "rules.yml"])
    incidents(out, inventory=root / "inventory.yaml")
    return out


def test_query_answers_sql_over_every_table(store: Path) -> None:
    top = query(store, "SELECT src_ip, count(*) AS n FROM alerts GROUP BY src_ip ORDER BY n DESC")
    assert top.rows() == [("203.0.113.66", 3)]
    joined = query(store, "SELECT e.line_no FROM alerts a JOIN events e ON a.event_id = e.event_id ORDER BY 1")
    assert joined["line_no"].to_list() == [31, 32, 33]
    assert query(store, "SELECT count(*) AS n FROM incidents")["n"][0] == 1


@pytest.mark.parametrize(("sql", "message"), [
    ("SELEC 1", "SQL error"),
    ("SELECT * FROM secrets", "no table 'secrets'; tables: alerts, anomalies, compliance, events, incidents"),
    ("SELECT nope FROM events", 'unknown column: unable to find column "nope"'),
    ("DROP TABLE events", "queries are read-only"),
    ("delete from events", "queries are read-only"),
])
def test_query_errors_are_clear_and_nothing_is_written(store: Path, sql: str, message: str) -> None:
    before = sorted(p.name for p in (store / "events").rglob("*"))
    with pytest.raises(SecawareError, match=message):
        query(store, sql)
    assert sorted(p.name for p in (store / "events").rglob("*")) == before


def test_query_formats(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    sql = "SELECT src_ip, http_status FROM events WHERE src_ip = '203.0.113.66' ORDER BY ts"
    as_csv = runner.invoke(cli, ["query", "--store", str(store), sql, "--format", "csv"])
    assert as_csv.output.splitlines() == ["src_ip,http_status"] + ["203.0.113.66,200"] * 3
    as_json = runner.invoke(cli, ["query", "--store", str(store), sql, "--format", "json"])
    assert json.loads(as_json.output)[0] == {"src_ip": "203.0.113.66", "http_status": 200}
    out = tmp_path / "x.parquet"
    runner.invoke(cli, ["query", "--store", str(store), sql, "--format", "parquet", "--out", str(out)])
    assert pl.read_parquet(out).height == 3
    table = runner.invoke(cli, ["query", "--store", str(store), sql])
    assert table.exit_code == 0 and "(3 rows)" in table.output


def test_hunt_puts_events_alerts_and_incidents_of_an_ip_in_time_order(store: Path) -> None:
    found = hunt(store, "ip", "203.0.113.66")
    assert found.counts == {"event": 3, "alert": 3, "incident": 1}
    assert found.timeline["ts"].is_sorted()
    first_event = found.timeline.filter(pl.col("kind") == "event").row(0, named=True)
    assert first_event["where"].endswith("access.log:31") and "/search" in first_event["summary"]
    assert hunt(store, "ip", "203.0.113.66", since=T0 + dt.timedelta(seconds=101)).counts["event"] == 2
    system = hunt(store, "system", "tw-portal", inventory=store.parent / "inventory.yaml")
    assert system.counts["event"] == 33 and system.counts["incident"] == 1
    with pytest.raises(SecawareError, match="no system 'nope'"):
        hunt(store, "system", "nope", inventory=store.parent / "inventory.yaml")


def test_terminal_output_never_carries_escape_sequences_from_logs(store: Path) -> None:
    runner = CliRunner()
    outputs = [runner.invoke(cli, ["hunt", "ip", "203.0.113.66", "--store", str(store)]).output]
    incident_id = query(store, "SELECT incident_id FROM incidents")["incident_id"][0]
    alert_id = query(store, "SELECT alert_id FROM alerts ORDER BY ts LIMIT 1")["alert_id"][0]
    outputs.append(runner.invoke(cli, ["show", "incident", incident_id, "--store", str(store)]).output)
    outputs.append(runner.invoke(cli, ["show", "alert", alert_id, "--store", str(store)]).output)
    outputs.append(runner.invoke(cli, ["query", "--store", str(store), "SELECT user_agent FROM events "
                                       "WHERE src_ip = '203.0.113.66'"]).output)
    for text in outputs:
        assert ESC not in text and "\u202e" not in text
    assert "\\x1b[2J" in outputs[2] and "\\u202e" in outputs[2]  # shown escaped, not hidden
    assert "access.log:31:" in outputs[2] and "union%20select" in outputs[2]
    assert "raw lines:" in outputs[1] and incident_id in outputs[1]


def test_show_unknown_ids_say_what_ids_look_like(store: Path) -> None:
    out = CliRunner().invoke(cli, ["show", "incident", "INC-NOPE", "--store", str(store)])
    assert out.exit_code == 1 and "ids look like INC-" in out.output


def test_show_a_brute_force_from_rotated_ipv6_addresses_gives_the_lines_of_its_64(tmp_path: Path) -> None:
    """The pack counts an IPv6 source by its /64: `show alert` then lists the lines of every address
    in that /64 within the episode, and none of another /64 failing at the same time."""
    from secaware.resources import bundled
    from secaware.show import show_alert

    def failed(seconds: int, address: str) -> str:
        t = (T0 + dt.timedelta(seconds=seconds)).astimezone(dt.timezone(dt.timedelta(hours=8)))
        return (f"{t.isoformat(timespec='microseconds')} by-oa-01 sshd[2608537]: Failed password for root from "
                f"{address} port {40000 + seconds} ssh2")

    lines = [failed(15 * k, f"2001:db8:4f2:7a::{k * 97 + 11:x}") for k in range(14)]  # one guesser, rotating
    lines += [failed(15 * k + 7, f"2001:db8:4f2:{k + 1:x}::5") for k in range(4)]  # four others, one try each
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_text("".join(line + "\n" for line in lines))
    out = tmp_path / "store"
    ingest([logs], out, settle_seconds=0)
    detect(out, [bundled("rules") / "correlation" / "ssh_authentication_attacks.yml"])
    alerts = pl.read_delta(str(out / "alerts")).filter(pl.col("kind") == "correlation")
    brute = alerts.filter(pl.col("rule_title").str.starts_with("SSH brute force - "))
    assert brute["group_key"].to_list() == ["src_net=2001:db8:4f2:7a::/64"] and brute["count"].to_list() == [14]
    shown = show_alert(out, brute["alert_id"][0])
    assert shown.lines.height == 14 and all("2001:db8:4f2:7a::" in raw for raw in shown.lines["raw"])


def test_hunt_an_ip_however_it_is_typed_a_range_and_an_ipv6_sources_64(tmp_path: Path) -> None:
    """A responder pastes an address as another tool wrote it (capitals, zeros written out, IPv4-mapped)
    or asks for a range; incidents name an IPv6 source by its /64, which one of its addresses finds."""
    root = tmp_path
    (root / "rules.yml").write_text(RULE)
    (root / "inventory.yaml").write_text(INVENTORY)
    (root / "logs").mkdir()
    lines = [web(k, f"240e:3cc:e12b:b5f6:{k + 1:x}::9", f"id=1%20union%20select%20{k}--") for k in range(4)]
    lines += [web(10 + k, "::ffff:198.51.100.7", f"q=news{k}") for k in range(2)]
    (root / "logs" / "access.log").write_text("".join(line + "\n" for line in lines))
    store = root / "store"
    ingest([root / "logs"], store, settle_seconds=0)
    detect(store, [root / "rules.yml"])
    incidents(store, inventory=root / "inventory.yaml")
    assert hunt(store, "ip", "240E:03CC:E12B:B5F6:0002:0000:0000:0009").counts == {"event": 1, "alert": 1,
                                                                                 "incident": 1}
    assert hunt(store, "ip", "240e:3cc:e12b:b5f6::/64").counts == {"event": 4, "alert": 4, "incident": 1}
    assert hunt(store, "ip", "::ffff:198.51.100.7").counts["event"] == 2  # stored as 198.51.100.7
    assert hunt(store, "ip", "198.51.100.0/24").counts["event"] == 2
    assert hunt(store, "ip", "240e:3cc:e12b:b5f7::9").counts == {"event": 0, "alert": 0, "incident": 0}


def test_a_user_name_cannot_point_show_at_another_sources_lines(tmp_path: Path) -> None:
    """The group key names the group's values; an attacker who logs in as `root, src_net=10.4.250.10`
    must not make `show alert` list an administrator's lines as the attack's."""
    from secaware.resources import bundled
    from secaware.show import show_alert

    def failed(seconds: int, user: str, address: str) -> str:
        t = (T0 + dt.timedelta(seconds=seconds)).astimezone(dt.timezone(dt.timedelta(hours=8)))
        return (f"{t.isoformat(timespec='microseconds')} by-oa-01 sshd[2608537]: Failed password for invalid user "
                f"{user} from {address} port {40000 + seconds} ssh2")

    forged = "root, src_net=10.4.250.10"
    lines = [failed(20 * k, forged, f"203.0.113.{k + 1}") for k in range(12)]  # twelve networks, one account
    lines += [failed(20 * k + 5, "ops", "10.4.250.10") for k in range(3)]  # the administrator mistyping
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "auth.log").write_text("".join(line + "\n" for line in lines))
    out = tmp_path / "store"
    ingest([tmp_path / "logs"], out, settle_seconds=0)
    detect(out, [bundled("rules") / "correlation" / "ssh_authentication_attacks.yml"])
    alerts = pl.read_delta(str(out / "alerts")).filter(pl.col("rule_title").str.starts_with("SSH distributed"))
    assert alerts["group_key"].to_list() == ["user=root\\, src_net=10.4.250.10, host=by-oa-01"]
    shown = show_alert(out, alerts["alert_id"][0])
    assert shown.lines.height == 12 and not any("10.4.250.10 port" in raw for raw in shown.lines["raw"])
