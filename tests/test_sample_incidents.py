"""The whole pipeline on the bundled sample logs: every planted attack lands in one incident per day.

The sample generator labels every attack line with its scenario and source (sample_logs/labels.csv).
Run nightly's stages with the shipped rule pack and inventory, then check the incidents against the
labels: the authorized scanner opens none, each attacking source opens one incident per day it
attacked, and thousands of alerts become a few dozen incidents.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from secaware.config import Collector, Config
from secaware.nightly import run
from tests.conftest import read_table

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("night")
    report = run(Config(store=out / "store", inventory=SAMPLES / "inventory.yaml", report_dir=out / "report",
                        settle=0, collectors=[Collector(SAMPLES)]))
    assert report.exit_code == 0, report.as_dict()
    return out / "store"


def labelled() -> pl.DataFrame:
    """Per scenario and source: the local days it attacked."""
    labels = pl.read_csv(SAMPLES / "labels.csv").with_columns(
        pl.col("detail").str.extract(r"src=([0-9a-fA-F.:]+)").alias("src"))
    return labels.drop_nulls("src")


def test_the_authorized_scanner_opens_no_incident(night: Path) -> None:
    scanner = labelled().filter(pl.col("scenario") == "authorized_scan")["src"].unique().to_list()
    assert scanner and not read_table(night, "incidents")["actor"].is_in(scanner).any()
    alerts = read_table(night, "alerts")
    assert alerts["src_ip"].is_in(scanner).any()  # its scan is still on record as alerts


def test_each_attacking_source_is_one_incident_per_day(night: Path) -> None:
    incidents = read_table(night, "incidents")
    days = (incidents.group_by("actor").agg(pl.col("first_ts").dt.convert_time_zone("Asia/Shanghai").dt.date()
                                            .n_unique().alias("days"), pl.len().alias("incidents")))
    per_actor = dict(days.select("actor", "incidents").iter_rows())
    # an off-hours admin login from a new address and a slow exfiltration are behaviours: signatures see
    # only low alerts there (a password login, a large upload), which do not open incidents on their own;
    # the anomaly stage is what finds them
    behavioural = ["authorized_scan", "offhours_login", "data_exfiltration"]
    sources = labelled().filter(~pl.col("scenario").is_in(behavioural))
    missing = sorted(set(sources["src"]) - set(per_actor))
    assert missing == [], f"attack sources with no incident: {missing}"
    split = days.filter(pl.col("incidents") > pl.col("days"))
    assert split.height == 0, f"one source split into several incidents on one day: {split.rows()}"


def test_alerts_are_cut_down_to_a_few_dozen_incidents(night: Path) -> None:
    alerts = read_table(night, "alerts").filter(~pl.col("suppressed"))
    incidents = read_table(night, "incidents")
    assert 5 <= incidents.height <= 60
    assert alerts.height / incidents.height >= 20
    assert set(incidents["status"]) == {"new"}
