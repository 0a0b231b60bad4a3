"""The bundled sample logs go through ingest completely: every format, every planted line."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from secaware.ingest import ingest
from tests.conftest import ROOT, read_table

pytestmark = pytest.mark.write_disk

SAMPLES = ROOT / "sample_logs"


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    store = tmp_path_factory.mktemp("samples") / "store"
    return store, ingest([SAMPLES], store)


def test_every_sample_file_parses_without_rejects(sample_store) -> None:
    store, report = sample_store
    assert report.errors == []
    assert report.totals()["rejects"] == 0, read_table(store, "rejects").select("file", "reason").unique()
    for f in report.files:
        assert f.events + f.skipped == f.lines, f.path
    sources = set(read_table(store, "events")["source"].unique())
    assert sources == {"combined", "common", "iis", "suricata", "sshd", "auth", "iptables",
                       "huawei_usg", "h3c", "hillstone", "sangfor"}


def test_every_labelled_attack_line_is_an_event(sample_store) -> None:
    store, _ = sample_store
    labels = pl.read_csv(SAMPLES / "labels.csv").with_columns(
        pl.concat_str(pl.lit(str(SAMPLES) + "/"), pl.col("file")).alias("file"))
    events = read_table(store, "events").select("file", "line_no", "source", "event_action", "src_ip", "ts")
    joined = labels.join(events, on=["file", "line_no"], how="left")
    assert joined["source"].null_count() == 0
    assert joined["ts"].null_count() == 0
    # The brute force ends in a successful login; the parser sees both sides.
    brute = joined.filter(pl.col("scenario") == "ssh_bruteforce")
    assert {"login_failed", "logged_in"} <= set(brute["event_action"].drop_nulls())


def test_every_prefecture_is_attributed_from_its_directory(sample_store) -> None:
    store, _ = sample_store
    events = read_table(store, "events")
    per_file = events.group_by("file").agg(pl.col("prefecture").unique())
    for file, prefs in per_file.iter_rows():
        expected = None if "/province/" in file else file.split("/sample_logs/")[1][:6]
        assert prefs == [expected], file
    assert events.filter(pl.col("prefecture").is_not_null())["prefecture"].n_unique() == 14
