"""The detect stage over a real store: alerts exactly once, incremental runs, windows, allowlists."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware.cli import cli
from secaware.detect import detect
from secaware.detect import pipeline as detect_pipeline
from secaware.detect.allowlist import load_allowlist, suppression
from secaware.errors import SecawareError
from secaware.ingest import ingest
from tests.conftest import read_table

RULES = """
title: SQL injection in the query string
id: 0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d
level: high
tags: [attack.initial-access, attack.t1190, mlps.8.1.3.3]
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: 'union select'
  condition: sel
---
title: SSH password failure
name: test_ssh_failure
id: 1b0c6e0e-1111-4a7b-8c9d-0e1f2a3b4c5d
level: low
logsource: {product: linux, service: sshd}
detection:
  sel:
    event_action: login_failed
  condition: sel
---
title: SSH login
name: test_ssh_login
id: 1b0c6e0e-3333-4a7b-8c9d-0e1f2a3b4c5d
level: informational
logsource: {product: linux, service: sshd}
detection:
  sel:
    event_action: logged_in
  condition: sel
---
title: SSH brute force
id: 1b0c6e0e-2222-4a7b-8c9d-0e1f2a3b4c5d
level: high
tags: [attack.credential-access, attack.t1110.001, mlps.8.1.4.1]
correlation:
  type: event_count
  rules: [test_ssh_failure]
  group-by: [src_ip]
  timespan: 5m
  condition: {gte: 10}
---
title: SSH login right after failures
id: 1b0c6e0e-4444-4a7b-8c9d-0e1f2a3b4c5d
level: critical
correlation:
  type: temporal_ordered
  rules: [test_ssh_failure, test_ssh_login]
  group-by: [src_ip]
  timespan: 10m
"""

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def web(i: int, query: str = "id=1", ip: str = "198.51.100.20") -> str:
    t = (T0 + dt.timedelta(seconds=i)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    return (f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET /news/show.php?{query} HTTP/1.1" 200 5120 '
            f'"-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"')


def ssh(seconds: float, text: str) -> str:
    t = T0 + dt.timedelta(seconds=seconds)
    return f"{t.strftime('%Y-%m-%dT%H:%M:%S')}+00:00 lz-web-01 sshd[2211]: {text}"


def failures(ip: str, n: int, start: float, every: float = 10.0) -> list[str]:
    return [ssh(start + k * every, f"Failed password for root from {ip} port {40000 + k} ssh2") for k in range(n)]


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


@pytest.fixture()
def site(tmp_path: Path) -> tuple[Path, Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pack.yml").write_text(RULES)
    logs = tmp_path / "logs"
    write(logs / "access.log", [*(web(i) for i in range(50)), web(50, "id=1%20UNION%20SELECT%20user,pass--",
                                                                  "203.0.113.9")])
    write(logs / "auth.log", [*failures("45.135.232.27", 12, 0),
                              ssh(200, "Accepted password for root from 45.135.232.27 port 41000 ssh2")])
    return tmp_path / "store", rules, logs


def alerts(store: Path) -> pl.DataFrame:
    return read_table(store, "alerts").sort("ts", "rule_title")


def test_alerts_name_rule_event_and_origin_and_a_rerun_adds_nothing(site) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    report = detect(store, [rules])
    got = alerts(store)
    sqli = got.filter(pl.col("rule_title") == "SQL injection in the query string").row(0, named=True)
    assert sqli["src_ip"] == "203.0.113.9" and sqli["level"] == "high" and sqli["kind"] == "event"
    assert sqli["file"].endswith("access.log") and sqli["line_no"] == 51
    assert "mlps.8.1.3.3" in sqli["tags"]
    # base rules referenced by correlations do not alert on their own (Sigma's generate: false)
    assert set(got["rule_title"]) == {"SQL injection in the query string", "SSH brute force",
                                      "SSH login right after failures"}
    assert report.alerts == got.height == 3 and report.correlation_alerts == 2
    again = detect(store, [rules])
    assert again.nothing_new and alerts(store).height == 3


def test_detection_gives_back_what_it_remembered_of_the_night(site) -> None:
    """The memo that spares repeated values between chunks holds up to 256 MB: the stages after
    detection (anomalies, compliance) get that memory back."""
    from secaware.detect.memo import MEMO

    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    MEMO.lookup("an earlier question", pl.Series(["/index.html"]), lambda v: pl.DataFrame({"a": [True]}))
    detect(store, [rules])
    assert not MEMO._tables


def test_a_detection_that_fails_still_gives_back_what_it_remembered(site, monkeypatch) -> None:
    """A run that stops in the middle of its chunks (a full disk, an interrupt) must not leave the
    memo's memory held by a process that goes on (a caller that catches the error and carries on)."""
    from secaware.detect.memo import MEMO

    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    MEMO.lookup("an earlier question", pl.Series(["/index.html"]), lambda v: pl.DataFrame({"a": [True]}))

    def full_disk(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(detect_pipeline.Store, "stage", full_disk)
    with pytest.raises(OSError, match="No space left"):
        detect(store, [rules])
    assert not MEMO._tables


def test_correlation_alert_carries_group_count_and_window(site) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    detect(store, [rules])
    brute = alerts(store).filter(pl.col("rule_title") == "SSH brute force").row(0, named=True)
    assert brute["group_key"] == "src_ip=45.135.232.27" and brute["src_ip"] == "45.135.232.27"
    assert brute["count"] == 12 and brute["value"] == 12
    assert brute["first_ts"] == T0 and brute["last_ts"] == T0 + dt.timedelta(seconds=110)
    assert brute["ts"] == T0 + dt.timedelta(seconds=90)  # the 10th failure met the condition
    assert brute["file"].endswith("auth.log") and brute["line_no"] == 10
    follow = alerts(store).filter(pl.col("rule_title") == "SSH login right after failures").row(0, named=True)
    assert follow["ts"] == T0 + dt.timedelta(seconds=200) and follow["line_no"] == 13


def test_new_lines_are_scored_once_and_an_ongoing_brute_force_stays_one_alert(site) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    detect(store, [rules])
    before = alerts(store)
    # the same source keeps going (within the window of the last failure), and a new injection
    write(logs / "auth.log", failures("45.135.232.27", 20, 300))
    write(logs / "access.log", [web(400, "q=1'%20union%20select%20null--", "203.0.113.77")])
    ingest([logs], store, settle_seconds=0)
    report = detect(store, [rules])
    after = alerts(store)
    assert after["alert_id"].n_unique() == after.height
    brute = after.filter(pl.col("rule_title") == "SSH brute force")
    assert brute.height == 1, "the continued brute force must update the open alert, not add a second one"
    assert brute["alert_id"][0] == before.filter(pl.col("rule_title") == "SSH brute force")["alert_id"][0]
    assert brute["count"][0] == 32 and brute["last_ts"][0] == T0 + dt.timedelta(seconds=300 + 19 * 10)
    assert after.filter(pl.col("kind") == "event")["src_ip"].to_list() == ["203.0.113.9", "203.0.113.77"]
    assert report.events == 21


def test_a_run_killed_between_commits_finishes_without_duplicates(site, monkeypatch) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    real = detect_pipeline.Store.commit

    def crash(self, table, actions, *, app_id, batch_id):  # type: ignore[no-untyped-def]
        if app_id == detect_pipeline.APP_CORRELATE:
            raise KeyboardInterrupt("killed")
        return real(self, table, actions, app_id=app_id, batch_id=batch_id)

    monkeypatch.setattr(detect_pipeline.Store, "commit", crash)
    with pytest.raises(KeyboardInterrupt):
        detect(store, [rules])
    assert set(alerts(store)["kind"]) == {"event"}
    monkeypatch.setattr(detect_pipeline.Store, "commit", real)
    detect(store, [rules])
    got = alerts(store)
    assert got.height == 3 and got["alert_id"].n_unique() == 3


def test_a_window_is_rescored_and_its_alerts_replaced(site) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    detect(store, [rules])
    first = alerts(store)
    report = detect(store, [rules], since=T0 - dt.timedelta(hours=1), until=T0 + dt.timedelta(hours=1))
    second = alerts(store)
    assert report.window is not None and report.events == 64  # every event in the window, scored again
    assert sorted(second["alert_id"]) == sorted(first["alert_id"])


def test_allowlisted_scanner_alerts_are_kept_but_suppressed(site, tmp_path: Path) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    allow = tmp_path / "allow.yaml"
    allow.write_text("scanners:\n  - address: 203.0.113.0/28\n    name: 省级漏洞扫描器\n")
    detect(store, [rules], allowlist=allow)
    sqli = alerts(store).filter(pl.col("kind") == "event").row(0, named=True)
    assert sqli["suppressed"] is True and sqli["suppressed_by"] == "allowlist: 省级漏洞扫描器"
    assert not alerts(store).filter(pl.col("kind") == "correlation")["suppressed"].any()


@pytest.mark.parametrize(("text", "message"), [
    ("scanners:\n  - address: 10.9.9.300\n", "scanners entry 1: '10.9.9.300' is not an IP address"),
    ("scanners:\n  - name: rsas\n", "scanners entry 1: needs 'address:'"),
    ("scanners:\n  - 10.9.9.9\n  - {address: 10.1.1.1, until: someday}\n", "scanners entry 2: 'until' must be"),
    ("scanners:\n  - {address: 10.1.1.1, port: 80}\n", "unknown key(s) port"),
    # a date that does not exist was a bare ValueError (a traceback, no line)
    ("scanners:\n  - address: 10.1.1.1\n    until: 2026-13-45\n", "scanners entry 1: 'until' must be a date"),
    ("scanners: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
])
def test_a_bad_allowlist_entry_is_named_with_the_fix(site, tmp_path: Path, text: str, message: str) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    allow = tmp_path / "allow.yaml"
    allow.write_text(text)
    with pytest.raises(SecawareError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        detect(store, [rules], allowlist=allow)
    assert str(allow) in str(err.value)


def test_detect_without_events_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SecawareError, match="run `secaware ingest` first"):
        detect(tmp_path / "empty", [])


def test_cli_detect_and_rules_check(site, tmp_path: Path) -> None:
    store, rules, logs = site
    ingest([logs], store, settle_seconds=0)
    runner = CliRunner()
    out = runner.invoke(cli, ["detect", "--store", str(store), "--rules", str(rules), "--allow", "203.0.113.9"])
    assert out.exit_code == 0, out.output
    assert "3 alerts (1 critical, 2 high), 2 from correlations, 1 suppressed" in out.output
    (rules / "broken.yml").write_text("title: broken\nlogsource: {category: webserver}\ndetection:\n"
                                      "  sel: {cs-cookie-jar: x}\n  condition: sel\n")
    check = runner.invoke(cli, ["rules", "check", "--json", str(rules)])
    assert check.exit_code == 1
    data = json.loads(check.stdout)
    assert data["rules"] == 6 and data["converted"] == 5
    assert data["failed"] == [{"file": str(rules / "broken.yml"),
                               "reason": "uses fields the events table does not have: cs-cookie-jar"}]
    text = runner.invoke(cli, ["rules", "check", str(rules / "pack.yml")])
    assert text.exit_code == 0 and "5 rules in 1 files: 5 converted (2 correlations), 0 failed" in text.output


CHAINED = RULES.split("---\ntitle: SSH login right after failures")[0] + """---
title: SSH brute force
name: test_ssh_bruteforce
id: 1b0c6e0e-2222-4a7b-8c9d-0e1f2a3b4c5e
level: high
correlation:
  type: event_count
  rules: [test_ssh_failure]
  group-by: [src_ip]
  timespan: 5m
  condition: {gte: 10}
---
title: SSH login after a brute force
id: 1b0c6e0e-5555-4a7b-8c9d-0e1f2a3b4c5d
level: critical
correlation:
  type: temporal_ordered
  rules: [test_ssh_bruteforce, test_ssh_login]
  group-by: [src_ip]
  timespan: 10m
"""


def test_a_login_after_a_brute_force_but_not_after_a_typo(site) -> None:
    """A correlation can count another correlation: success after >= 10 failures, not after one mistyped password."""
    store, rules, logs = site
    (rules / "pack.yml").write_text(CHAINED)
    write(logs / "auth.log", [ssh(900, "Failed password for oaadmin from 10.8.0.5 port 50000 ssh2"),
                              ssh(905, "Accepted password for oaadmin from 10.8.0.5 port 50001 ssh2")])
    # a brute force that goes on for half an hour, then gets in: the login follows its end, not its start
    write(logs / "auth.log", [*failures("61.177.172.140", 90, 3000, every=20),
                              ssh(3000 + 90 * 20 + 60, "Accepted password for root from 61.177.172.140 port 1 ssh2")])
    ingest([logs], store, settle_seconds=0)
    detect(store, [rules])
    got = alerts(store).filter(pl.col("kind") == "correlation")
    assert got.select("rule_title", "group_key").rows() == [
        ("SSH brute force", "src_ip=45.135.232.27"),  # the unnamed copy; the referenced one does not generate
        ("SSH login after a brute force", "src_ip=45.135.232.27"),
        ("SSH brute force", "src_ip=61.177.172.140"),
        ("SSH login after a brute force", "src_ip=61.177.172.140"),
    ]
    login = got.filter(pl.col("rule_title") == "SSH login after a brute force").row(0, named=True)
    # from the brute force's last failure (its end) to the login
    assert login["ts"] == T0 + dt.timedelta(seconds=200) and login["first_ts"] == T0 + dt.timedelta(seconds=110)


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["detect", "--store", "{store}", "--since", "2026-11-25", "--until", "2026-11-20"], "--until"),
        (["detect", "--store", "{store}", "--since", "2026-11-25T08:00", "--until", "2026-11-25T08:00"], "--until"),
        (["hunt", "ip", "10.0.0.1", "--store", "{store}", "--since", "2026-11-25", "--until", "2026-11-01"],
         "--until"),
        (["models", "train", "--store", "{store}", "--since", "2026-12-01", "--until", "2026-11-01"], "--until"),
        (["report", "--store", "{store}", "--period", "2026-11-30..2026-11-01"], "--period"),
        (["detect", "--store", "{store}", "--since", "2026-11-20", "--tz", "Asia/Lanzhou"], "--tz"),
        (["ingest", "{store}/logs", "--store", "{store}", "--tz", "UTC+8"], "--tz"),
    ],
)
def test_a_reversed_window_or_an_unknown_zone_is_a_usage_error(tmp_path: Path, command: list[str],
                                                               option: str) -> None:
    """`--since 2026-11-25 --until 2026-11-20` selected nothing and, for `detect`, rewrote no window
    while saying it had scored it; a misspelt zone (`Asia/Lanzhou` is none) was a traceback. Both are
    refused before anything is read or written, naming the option."""
    (tmp_path / "logs").mkdir()
    args = [a.format(store=tmp_path) for a in command]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # nothing created


def test_an_allowlisted_ipv6_range_holds_its_compressed_addresses(tmp_path: Path) -> None:
    """An ISP gives a /56 or /60; an address in it is stored compressed (`240e:3cc:e12b:b5f6::9`, zeros
    written as `::`). Such an entry stopped the run (only multiples of 16 bits were read), and a /64
    entry missed addresses whose zeros fell inside the prefix."""
    allow = tmp_path / "allow.yaml"
    allow.write_text("scanners:\n  - {address: '240e:3cc:e12b:b500::/56', name: 电信扫描段}\n"
                     "  - {address: '2001:db8::/64', name: 测试段}\n")
    suppressed, by = suppression(load_allowlist(allow))
    frame = pl.DataFrame({
        "src_ip": ["240e:3cc:e12b:b5f6::9", "240e:3cc:e12b:b600::1", "2001:db8::5", "2001:db8:0:1::5", "10.1.1.1", None],
        "ts": [T0] * 6, "rule_id": ["r"] * 6, "tags": [["attack.t1190"]] * 6,
    })
    got = frame.select(suppressed, by)
    assert got["suppressed"].to_list() == [True, False, True, False, False, False]
    assert got["suppressed_by"].to_list()[:3] == ["allowlist: 电信扫描段", None, "allowlist: 测试段"]
