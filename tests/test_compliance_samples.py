"""Compliance on the bundled sample logs: every planted violation found with its clause, nothing else 不符合.

The planted scenarios (sample_logs/README.md) that break a graded-protection item, and where:
- ssh_bruteforce on by-oa (level 2): SSH open to the Internet (7.1.3.2 a), 32 failures of oaadmin with no
  lockout and then its login (7.1.4.1 b), from outside the management range (7.1.4.4 c), and the intruder's
  `useradd -o -u 0` (7.1.4.2 c);
- telnet_admin on pl-gjj (level 3): telnet administration (8.1.4.1 c) as the default account admin (8.1.4.2 b);
- offhours_login on ln-bdc (level 3): SSH let in from the Internet (8.1.3.2 a), a login from outside the
  management range (8.1.4.4 c), and `rm -f /root/.bash_history` (8.1.4.3 c);
- password_spraying on qy-zwfw (level 2): SSH open to the Internet (7.1.3.2 a);
- port_scan on ww-portal (level 3): the legacy 8000-9000 rule lets a scanner reach 29 ports (8.1.3.2 b);
- vuln_scanner (Xray) on qy-portal (level 3): probes in the web log that the IDS saw and never alerted on
  (8.1.3.3 a).
The attacks that compliance cannot see as a control failure (injections the IDS reported, exfiltration over
HTTPS) and the authorized Nessus scan must not produce a 不符合, nor must anything in the prefectures with no
planted scenario.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from secaware.compliance import compliance
from secaware.detect import detect
from secaware.ingest import ingest
from tests.conftest import ROOT, read_table

pytestmark = pytest.mark.write_disk

SAMPLES = ROOT / "sample_logs"
PLANTED = {
    ("by-oa", "7.1.3.2 a"): "ssh_bruteforce",
    ("by-oa", "7.1.4.1 b"): "ssh_bruteforce",
    ("by-oa", "7.1.4.2 c"): "ssh_bruteforce",
    ("by-oa", "7.1.4.4 c"): "ssh_bruteforce",
    ("pl-gjj", "8.1.4.1 c"): "telnet_admin",
    ("pl-gjj", "8.1.4.2 b"): "telnet_admin",
    ("ln-bdc", "8.1.3.2 a"): "offhours_login",
    ("ln-bdc", "8.1.4.3 c"): "offhours_login",
    ("ln-bdc", "8.1.4.4 c"): "offhours_login",
    ("qy-zwfw", "7.1.3.2 a"): "password_spraying",
    ("ww-portal", "8.1.3.2 b"): "port_scan",
    ("qy-portal", "8.1.3.3 a"): "vuln_scanner",
}
CLEAN_PREFECTURES = {"620200", "622900", "623000"}


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("compliance") / "store"
    ingest([SAMPLES], store, settle_seconds=0)
    return store


@pytest.fixture(scope="module")
def sample_compliance(sample_store: Path) -> tuple[pl.DataFrame, object]:
    """Compliance from the events alone, before detect has run."""
    report = compliance(sample_store, inventory=SAMPLES / "inventory.yaml")
    return read_table(sample_store, "compliance"), report


def test_every_planted_violation_is_found_with_its_clause_and_nothing_else(sample_compliance) -> None:
    table, _ = sample_compliance
    found = table.filter(pl.col("verdict") == "不符合")
    assert set(found.select("system", "clause").iter_rows()) == set(PLANTED)


def test_each_finding_points_at_lines_of_its_scenario(sample_compliance) -> None:
    table, _ = sample_compliance
    labels = pl.read_csv(SAMPLES / "labels.csv").select(
        pl.format("{}/{}:{}", pl.lit(str(SAMPLES)), "file", "line_no").alias("example"), "scenario")
    for (system, clause), scenario in PLANTED.items():
        row = table.filter((pl.col("system") == system) & (pl.col("clause") == clause)).row(0, named=True)
        labelled = set(labels.filter(pl.col("scenario") == scenario)["example"])
        assert set(row["examples"]) & labelled, (system, clause, row["examples"])


def test_clean_systems_get_no_noncompliance_and_every_system_every_item(sample_compliance) -> None:
    table, report = sample_compliance
    clean = table.filter(pl.col("prefecture").is_in(CLEAN_PREFECTURES))
    assert clean["system"].n_unique() == 9
    assert clean.filter(pl.col("verdict") == "不符合").height == 0
    rows = dict(table.group_by("level").agg(pl.col("system").n_unique().alias("systems"), pl.len()).select(
        "level", pl.col("len") // pl.col("systems")).iter_rows())
    assert rows == {2: 16, 3: 19}
    assert report.systems == 42 and report.rows == table.height
    assert table.filter(pl.col("verdict") == "部分符合")["evidence"].str.contains("需人工核查").all()


def test_high_risk_findings(sample_compliance) -> None:
    table, _ = sample_compliance
    high = set(table.filter(pl.col("high_risk")).select("system", "clause").iter_rows())
    # Internet-facing SSH, a password guessed without lockout, administrators logging in from the Internet;
    # telnet from inside the management network and an IDS that watches but missed a scan are not high risk
    assert high == {("by-oa", "7.1.3.2 a"), ("by-oa", "7.1.4.1 b"), ("by-oa", "7.1.4.4 c"), ("ln-bdc", "8.1.3.2 a"),
                    ("ln-bdc", "8.1.4.4 c"), ("qy-zwfw", "7.1.3.2 a")}


def test_the_authorized_scan_is_not_an_attack(sample_compliance) -> None:
    table, _ = sample_compliance
    assert not table["evidence"].str.contains("10.1.9.9", literal=True).any()


def test_detect_alerts_add_no_finding_beyond_the_planted_ones(sample_compliance, sample_store: Path) -> None:
    """With the shipped rule pack's alerts as attack evidence too: a sweep the firewall denied is a prevented
    attack, and every web attack the rules see was also reported by the IDS, except the Xray scan."""
    before, _ = sample_compliance
    detect(sample_store)
    compliance(sample_store, inventory=SAMPLES / "inventory.yaml")
    after = read_table(sample_store, "compliance")
    found = after.filter(pl.col("verdict") == "不符合")
    assert set(found.select("system", "clause").iter_rows()) == set(PLANTED)
    assert after.height == before.height
