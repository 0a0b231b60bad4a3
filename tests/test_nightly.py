"""`secaware run` as a scheduler sees it: config check, exit codes, the lock, interrupted runs."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware import nightly
from secaware.cli import cli
from secaware.config import load_config
from secaware.nightly import EXIT_LOCKED, StoreLock
from tests.conftest import read_table

RULES = """
title: SQL injection
id: 5e000000-0000-4000-8000-000000000001
level: high
tags: [attack.initial-access, attack.t1190]
logsource: {category: webserver}
detection:
  sel: {cs-uri-query|contains: 'union select'}
  condition: sel
"""
T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def web(seconds: int, ip: str, query: str) -> str:
    t = (T0 + dt.timedelta(seconds=seconds)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    return f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET /a.php?{query} HTTP/1.1" 200 900 "-" "Mozilla/5.0"'


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    collect = tmp_path / "collect" / "620100-lanzhou" / "portal"
    collect.mkdir(parents=True)
    lines = [web(k, f"198.51.100.{k}", f"id={k}") for k in range(40)]
    lines += [web(60 + k, "203.0.113.5", f"id=1%20union%20select%20{k}--") for k in range(4)]
    (collect / "access.log").write_text("".join(line + "\n" for line in lines))
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "sqli.yml").write_text(RULES)
    (tmp_path / "inventory.yaml").write_text(
        'systems:\n  - id: lz-portal\n    name: 门户\n    prefecture: "620100"\n    level: 3\n'
        '    logs: ["collect/620100-lanzhou/portal/**"]\n')
    (tmp_path / "secaware.toml").write_text(
        'store = "store"\ninventory = "inventory.yaml"\nrules = ["rules"]\nsettle = 0\n'
        '[incidents]\ngap = "30m"\n[[collectors]]\npath = "collect"\ntz = "Asia/Shanghai"\n')
    return tmp_path


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_config_check_lists_every_problem_with_its_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('inventory = "missing.yaml"\ncolour = "blue"\n[report]\nlang = "fr"\n[incidents]\ngap = "soon"\n'
                   '[[collectors]]\npath = "nowhere"\nprefecture = "西安"\ntz = "Mars/Olympus"\nformat = "x"\n')
    out = invoke("config", "check", "--config", str(bad))
    assert out.exit_code == 2
    for expected in ("store: missing", "colour: unknown setting", "missing.yaml does not exist",
                     "report.lang: 'fr' must be", "incidents.gap: 'soon' is not a duration",
                     "collectors[0].path", "'西安' is not one of Gansu's 14", "'Mars/Olympus' is not a time zone",
                     "unknown format 'x'"):
        assert expected in out.output, expected
    assert invoke("config", "check", "--config", str(tmp_path / "none.toml")).exit_code == 2


def test_run_does_the_night_and_a_second_run_finds_nothing_new(site: Path, monkeypatch) -> None:
    monkeypatch.chdir(site)
    assert load_config("secaware.toml").problems == []
    first = invoke("run", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    stages = {s["name"]: s for s in summary["stages"]}
    assert stages["ingest"]["events"] == 44 and stages["detect"]["alerts"] == 4
    assert stages["incidents"]["incidents"] == 1 and stages["incidents"]["new"] == 1
    second = json.loads(invoke("run", "--json").output)
    again = {s["name"]: s for s in second["stages"]}
    assert again["ingest"]["events"] == 0 and again["detect"]["nothing_new"] is True
    # stages that recompute from whole tables are skipped when their tables did not change
    assert again["incidents"]["up_to_date"] and again["compliance"]["up_to_date"] and again["report"]["up_to_date"]
    assert second["report"].endswith("index.html") and read_table(site / "store", "alerts").height == 4
    # an edited inventory changes what incidents and compliance say: they run again
    inventory = site / "inventory.yaml"
    inventory.write_text(inventory.read_text().replace("name: 门户", "name: 兰州市门户"))
    third = {s["name"]: s for s in json.loads(invoke("run", "--json").output)["stages"]}
    assert "up_to_date" not in third["incidents"] and third["incidents"]["incidents"] == 1


def test_fail_on_exit_code(site: Path, monkeypatch) -> None:
    monkeypatch.chdir(site)
    assert invoke("run", "--fail-on", "critical").exit_code == 0
    # the same incident is no longer new: a second night with nothing new does not page anyone
    assert invoke("run", "--fail-on", "high").exit_code == 0
    other = site / "other"
    (other / "collect").mkdir(parents=True)
    (other / "collect" / "access.log").write_text(web(5, "203.0.113.9", "q=1%20union%20select%201") + "\n")
    out = invoke("run", "--store", str(other / "store"), "--collect", str(other / "collect"), "--rules",
                 str(site / "rules"), "--inventory", str(site / "inventory.yaml"), "--settle", "0",
                 "--fail-on", "high")
    assert out.exit_code == 3, out.output
    assert "1 new or updated incidents at or above high" in out.output


def test_a_second_run_is_refused_while_one_holds_the_lock(site: Path, monkeypatch) -> None:
    monkeypatch.chdir(site)
    with StoreLock(site / "store", "run --config secaware.toml"):
        out = invoke("run")
        assert out.exit_code == EXIT_LOCKED
        assert f"pid {os.getpid()}" in out.output and "this run stops" in out.output
    assert invoke("run").exit_code == 0


def test_a_lock_left_by_a_dead_process_does_not_block(site: Path, monkeypatch) -> None:
    monkeypatch.chdir(site)
    script = ("import sys; from secaware.nightly import StoreLock; "
              "l = StoreLock(__import__('pathlib').Path(sys.argv[1])); l.__enter__(); import os; os._exit(9)")
    subprocess.run([sys.executable, "-c", script, str(site / "store")], check=False)
    assert "pid" in (site / "store" / ".secaware.lock").read_text()  # the dead run's note is still there
    assert invoke("run").exit_code == 0


def test_a_run_interrupted_at_any_stage_finishes_without_duplicates(site: Path, monkeypatch) -> None:
    monkeypatch.chdir(site)
    clean = site / "clean"
    assert invoke("run", "--store", str(clean)).exit_code == 0
    real = list(nightly.STAGES)
    for stop in range(len(real)):
        store = site / f"interrupted{stop}"

        def boom(*args: object) -> dict:
            raise KeyboardInterrupt("killed")

        monkeypatch.setattr(nightly, "STAGES", [*real[:stop], (real[stop][0], boom)])
        with pytest.raises(KeyboardInterrupt):
            nightly.run(_config(site, store))
        monkeypatch.setattr(nightly, "STAGES", real)
        assert invoke("run", "--store", str(store)).exit_code == 0
        for table in ("events", "alerts", "incidents"):
            got, want = read_table(store, table), read_table(clean, table)
            assert got.height == want.height, (stop, table)
        assert read_table(store, "alerts")["alert_id"].sort().to_list() == \
            read_table(clean, "alerts")["alert_id"].sort().to_list()
        assert read_table(store, "incidents")["alerts"].to_list() == read_table(clean, "incidents")["alerts"].to_list()


def _config(site: Path, store: Path):  # type: ignore[no-untyped-def]
    cfg = load_config(site / "secaware.toml")
    cfg.store = store
    return cfg


def test_retain_removes_old_rows_and_their_files_and_refuses_less_than_six_months(site: Path,
                                                                                   monkeypatch) -> None:
    monkeypatch.chdir(site)
    assert invoke("run").exit_code == 0
    store = site / "store"
    refused = invoke("retain", "--store", str(store), "--keep", "30")
    assert refused.exit_code == 1 and "six months" in refused.output
    files_before = len(list((store / "events").glob("*.parquet")))
    from secaware.retain import retain

    # seen from 200 days after the logs: everything is older than 183 days
    report = retain(store, 183, now=T0 + dt.timedelta(days=200))
    assert report.deleted["events"] == 44 and report.deleted["alerts"] == 4 and report.deleted["incidents"] == 1
    assert read_table(store, "events").height == 0 and read_table(store, "alerts").height == 0
    assert report.files_removed >= files_before
    assert len(list((store / "events").glob("*.parquet"))) == 0
    # the ingest log stays, so the same files are not read again
    assert json.loads(invoke("run", "--json").output)["stages"][0]["events"] == 0
    kept = retain(store, 183, now=T0 + dt.timedelta(days=100))
    assert kept.deleted.get("events", 0) == 0


def test_a_collector_inside_another_reads_its_folder_in_its_own_zone(site: Path, monkeypatch) -> None:
    """A firewall that logs in UTC below a collector of Beijing-time logs: its own collector, its own zone."""
    monkeypatch.chdir(site)
    fw = site / "collect" / "620900-jiuquan" / "firewall"
    fw.mkdir(parents=True)
    (fw / "iptables.log").write_text(
        "2026-11-23T02:52:13 gs-jq-fw01 kernel: [1.0] IN=eth0 OUT= SRC=203.0.113.8 DST=10.9.1.10 LEN=60 "
        "PROTO=TCP SPT=51515 DPT=22 SYN\n")
    (site / "secaware.toml").write_text((site / "secaware.toml").read_text() +
                                        '[[collectors]]\npath = "collect/620900-jiuquan/firewall"\ntz = "UTC"\n')
    assert invoke("run").exit_code == 0
    events = read_table(site / "store", "events").filter(pl.col("file").str.ends_with("iptables.log"))
    assert events.height == 1  # read once, by the inner collector
    assert events["ts"][0] == dt.datetime(2026, 11, 23, 2, 52, 13, tzinfo=dt.UTC)
