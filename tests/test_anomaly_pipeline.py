"""The anomaly stage over a real store: models trained and refused, ad hoc baselines, incremental runs."""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest
from click.testing import CliRunner

from secaware.anomaly import ModelError, anomalies, train
from secaware.cli import cli
from secaware.ingest import ingest
from tests.conftest import ROOT, read_table

pytestmark = pytest.mark.write_disk

SAMPLES = ROOT / "sample_logs"
CST = dt.timezone(dt.timedelta(hours=8))
DAY1 = dt.datetime(2026, 11, 23, tzinfo=CST)
DAY2 = dt.datetime(2026, 11, 24, tzinfo=CST)


def ingest_samples(store: Path) -> None:
    # the 酒泉 firewall writes UTC header times (see sample_logs/README.md): read that file in UTC first
    ingest([SAMPLES / "620900-jiuquan" / "firewall"], store, tz="UTC", settle_seconds=0)
    ingest([SAMPLES], store, settle_seconds=0)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("anomaly-samples") / "store"
    ingest_samples(store)
    return store


@pytest.fixture(scope="module")
def adhoc(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, pl.DataFrame]:
    """Every request and window of the sample logs scored without a trained model."""
    store = tmp_path_factory.mktemp("anomaly-adhoc") / "store"
    shutil.copytree(sample_store, store)
    report = anomalies(store, models=store.parent / "models", keep_all=True)
    return store, report, read_table(store, "anomalies")


def test_without_a_model_each_level_fits_on_the_data_at_hand_and_says_so(adhoc) -> None:
    _, report, rows = adhoc
    assert report.adhoc == {"request": True, "behaviour": True}
    assert any(n.startswith("no trained request model in ") for n in report.notes)
    assert any(n.startswith("no trained behaviour model in ") for n in report.notes)
    assert "baseline: none trained (no behaviour.joblib in " in report.summary()
    assert rows["adhoc"].all() and rows["baseline"].str.starts_with("none trained").all()
    assert rows["anomaly_id"].n_unique() == rows.height


def ranks(rows: pl.DataFrame, model: str) -> pl.DataFrame:
    return (rows.filter(pl.col("model") == model)
            .with_columns(pl.col("score").rank("min", descending=True).alias("rank"), pl.len().alias("of"))
            .group_by("entity").agg(pl.col("rank").min(), pl.col("of").first()))


def rank_of(rows: pl.DataFrame, model: str, entity: str) -> tuple[int, int]:
    r = ranks(rows, model).filter(pl.col("entity") == entity).row(0, named=True)
    return r["rank"], r["of"]


@pytest.mark.parametrize(("model", "entity", "top"), [
    ("fw_source_hour", "80.94.95.115", 1),  # host sweep: 254 addresses on tcp/22
    ("fw_source_hour", "193.32.162.84", 30),  # port scan: ~200 ports (of 3,400 windows)
    ("fw_source_hour", "10.9.2.10", 60),  # exfiltration: 650 MB out (of 3,400 windows)
    ("auth_source_day", "61.177.172.140", 2),  # SSH brute force
    ("auth_source_day", "45.135.232.27", 3),  # password spraying
    ("auth_account_day", "ops@ln-bdc-01", 2),  # off-hours login from a new address
    ("auth_account_day", "oaadmin@by-oa-01", 3),  # account taken over after the brute force
    ("web_source_hour", "194.26.192.64", 3),  # Nikto
    ("web_source_hour", "47.243.59.11", 5),  # Acunetix
    ("web_source_hour", "8.218.97.212", 5),  # Xray
])
def test_planted_behaviour_of_the_sample_logs_ranks_high(adhoc, model: str, entity: str, top: int) -> None:
    _, _, rows = adhoc
    rank, of = rank_of(rows, model, entity)
    assert rank <= top, f"{entity} ranks {rank} of {of} in {model}"


def test_flagged_windows_name_the_features_with_observed_and_typical_values(adhoc) -> None:
    _, _, rows = adhoc
    sweep = rows.filter((pl.col("model") == "fw_source_hour") & (pl.col("entity") == "80.94.95.115")
                        ).sort("score", descending=True).row(0, named=True)
    assert sweep["is_anomaly"] and sweep["score"] >= sweep["threshold"] == 3.0
    assert "distinct destination addresses 254 (typical 1, higher than all " in sweep["explanation"]
    top = sweep["deviations"][0]
    assert top["observed"] == "254" and top["typical"] == "1" and top["score"] >= 3
    assert sweep["prefecture"] == "621200" and sweep["entity_type"] == "ip" and sweep["kind"] == "behaviour"
    assert sweep["window_end"] - sweep["window_start"] == dt.timedelta(hours=1)
    awvs = rows.filter((pl.col("model") == "web_source_hour") & (pl.col("entity") == "47.243.59.11")
                       ).sort("score", descending=True).row(0, named=True)
    assert awvs["system"] == "dx-portal" and awvs["file"] is None  # named from the inventory; file: requests only
    ops = rows.filter(pl.col("entity") == "ops@ln-bdc-01").sort("score", descending=True).row(0, named=True)
    assert ops["explanation"].startswith("logins from outside the private ranges 1 (typical 0, higher than ")
    assert ops["host"] == "ln-bdc-01" and ops["entity_type"] == "account" and ops["system"] == "ln-bdc"


def test_request_rows_carry_the_event_origin(adhoc) -> None:
    _, _, rows = adhoc
    req = rows.filter(pl.col("kind") == "request")
    assert req["file"].null_count() == 0 and req["line_no"].null_count() == 0 and req["event_id"].null_count() == 0
    assert (req["window_start"] == req["window_end"]).all()
    # systems are named from the inventory (log folders of the sample layout)
    assert {"lz-portal", "ts-gjj", "jc-portal"} <= set(req["system"].unique())


# ----------------------------------------------------------------------------------- request level


def nginx(t: dt.datetime, ip: str, target: str, status: int = 200, method: str = "GET") -> str:
    return (f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S %z")}] "{method} {target} HTTP/1.1" {status} 5120 "-" '
            f'"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0.0.0 Safari/537.36"')


def portal_day(day: dt.datetime, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    terms = ["社保查询", "公积金提取", "营业执照", "不动产登记"]
    lines = []
    for i in range(n):
        t = day + dt.timedelta(seconds=30 + i * (80_000 // n))
        ip = f"118.180.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        kind = rng.random()
        if kind < 0.5:
            target = f"/xxgk/detail?id={rng.randint(1000, 99999)}"
        elif kind < 0.85:
            target = f"/search?q={quote(rng.choice(terms))}&page={rng.randint(1, 5)}"
        else:
            target = f"/api/list?page={rng.randint(1, 40)}&size=10"
        lines.append(nginx(t, ip, target))
    return lines


ATTACKS = [
    "/xxgk/detail?id=4821%27%20AND%201%3DCONVERT(int,(SELECT%20@@version))--",
    "/search?q=%3Csvg%20onload%3Dalert(document.domain)%3E&page=1",
    "/api/list?page=1&size=10;cat%20/etc/passwd",
    "/xxgk/detail?id=../../../../WEB-INF/web.xml",
]


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


@pytest.fixture()
def portal(tmp_path: Path) -> tuple[Path, Path, Path]:
    logs = tmp_path / "logs" / "620100-lanzhou" / "lz-portal"
    write(logs / "access.log.1", portal_day(DAY1, 3000, seed=1))
    store, models = tmp_path / "store", tmp_path / "models"
    ingest([logs / "access.log.1"], store, settle_seconds=0)
    return store, models, logs


def test_a_trained_profile_flags_the_attacks_of_the_next_day_and_says_why(portal) -> None:
    store, models, logs = portal
    report = train(store, since=DAY1, until=DAY2, models_dir=models)
    assert report.files["request"]["sha256"] and report.requests == 3000
    normal = portal_day(DAY2, 1000, seed=2)
    day2 = normal[:500] + [nginx(DAY2 + dt.timedelta(hours=14, seconds=i), "45.77.151.38", a)
                           for i, a in enumerate(ATTACKS)] + normal[500:]
    write(logs / "access.log", day2)
    ingest([logs / "access.log"], store, settle_seconds=0)
    result = anomalies(store, models=models)
    assert result.adhoc == {"request": False, "behaviour": False}
    rows = read_table(store, "anomalies").filter(pl.col("kind") == "request")
    assert sorted(rows["line_no"].to_list()) == [501, 502, 503, 504]
    assert rows["file"].str.ends_with("lz-portal/access.log").all() and rows["entity"].unique().to_list() == [
        "45.77.151.38"]
    assert rows["baseline"].str.contains(r"request\.joblib trained on 2026-11-22\.\.2026-11-23 \(sha256 ").all()
    first = rows.sort("line_no").row(0, named=True)
    assert first["explanation"].startswith("parameter `id` is numeric in 100.0% of ")
    assert first["endpoint"] == "/xxgk/detail" and first["prefecture"] == "620100"
    assert first["system"] == "620100-lanzhou/lz-portal"  # no inventory names it: the site is its log folder
    assert result.request_anomalies == 4 and result.requests == 4004  # the baseline day was not scored before


def test_a_tampered_model_is_refused_with_a_clear_error(portal) -> None:
    store, models, _ = portal
    train(store, models_dir=models)
    path = models / "request.joblib"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ModelError, match=r"request\.joblib does not match its model card"):
        anomalies(store, models=models)
    result = CliRunner().invoke(cli, ["anomalies", "--store", str(store), "--models", str(models)])
    assert result.exit_code == 1 and "does not match its model card" in result.output
    assert "anomalies" not in [p.name for p in store.iterdir()]  # nothing was written
    # a bad behaviour model stops the run before the request level writes anything either
    train(store, models_dir=models)
    (models / "behaviour.joblib").write_bytes(b"not the trained model")
    with pytest.raises(ModelError, match=r"behaviour\.joblib does not match its model card"):
        anomalies(store, models=models)
    assert "anomalies" not in [p.name for p in store.iterdir()]


# ------------------------------------------------------------------------------------- incremental


def auth_lines(start: dt.datetime, ip: str, n: int, user: str = "root") -> list[str]:
    return [f"{(start + dt.timedelta(seconds=7 * k)).astimezone(CST).isoformat()} qy-zwfw-01 sshd[4242]: Failed "
            f"password for {user} from {ip} port {40000 + k} ssh2" for k in range(n)]


def test_new_batches_are_scored_once_windows_are_replaced_and_a_rerun_adds_nothing(sample_store, tmp_path) -> None:
    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    models = tmp_path / "models"
    first = anomalies(store, models=models, keep_all=True)
    rows = read_table(store, "anomalies")
    assert not first.nothing_new and rows.height > 0
    again = anomalies(store, models=models, keep_all=True)
    assert again.nothing_new and read_table(store, "anomalies").height == rows.height

    # a brute force that goes on across two ingest runs is one window, rescored, not two
    t0 = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
    log = tmp_path / "more" / "621000-qingyang" / "qy-zwfw" / "auth.log"
    write(log, auth_lines(t0, "203.0.113.77", 20))
    ingest([log], store, settle_seconds=0)
    anomalies(store, models=models, keep_all=True)
    write(log, auth_lines(t0 + dt.timedelta(hours=1), "203.0.113.77", 30))
    ingest([log], store, settle_seconds=0)
    anomalies(store, models=models, keep_all=True)
    after = read_table(store, "anomalies")
    windows = after.filter((pl.col("model") == "auth_source_day") & (pl.col("entity") == "203.0.113.77"))
    assert windows.height == 1 and windows["events"][0] == 50
    assert after["anomaly_id"].n_unique() == after.height
    # the requests scored in the first run are still there once
    req_before = rows.filter(pl.col("kind") == "request")["anomaly_id"].sort()
    req_after = after.filter(pl.col("kind") == "request")["anomaly_id"].sort()
    assert req_before.equals(req_after)


def test_a_run_killed_between_its_commits_is_completed_by_the_next_one(sample_store, tmp_path, monkeypatch) -> None:
    from secaware.anomaly import pipeline
    from secaware.store import Store

    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    log = tmp_path / "more" / "621000-qingyang" / "qy-zwfw" / "auth.log"
    write(log, auth_lines(dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC), "203.0.113.77", 20))
    anomalies(store, models=tmp_path / "models", keep_all=True)
    clean = read_table(store, "anomalies")
    ingest([log], store, settle_seconds=0)

    real = Store.commit

    def crash(self, table, actions, *, app_id, batch_id):  # the behaviour level dies after its delete
        if app_id == pipeline.APP_BEHAVIOUR:
            raise KeyboardInterrupt
        return real(self, table, actions, app_id=app_id, batch_id=batch_id)

    monkeypatch.setattr(Store, "commit", crash)
    with pytest.raises(KeyboardInterrupt):
        anomalies(store, models=tmp_path / "models", keep_all=True)
    monkeypatch.setattr(Store, "commit", real)
    again = anomalies(store, models=tmp_path / "models", keep_all=True)
    assert not again.nothing_new and again.requests == 0  # the request level had committed; only behaviour redone
    rows = read_table(store, "anomalies")
    assert rows["anomaly_id"].n_unique() == rows.height
    assert rows.filter(pl.col("kind") == "request").height == clean.filter(pl.col("kind") == "request").height
    assert rows.filter((pl.col("entity") == "203.0.113.77") & (pl.col("model") == "auth_source_day")).height == 1
    assert anomalies(store, models=tmp_path / "models").nothing_new


# --------------------------------------------------------------------------------------------- CLI


def test_cli_trains_then_scores(portal) -> None:
    store, models, _ = portal
    runner = CliRunner()
    result = runner.invoke(cli, ["models", "train", "--store", str(store), "--models", str(models)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"baseline 2026-11-22T16:00:30+00:00 .. {lines[0].split(' .. ')[1]}"
    assert lines[1].startswith("request profile: 3,000 web requests, threshold ") and "request.joblib" in lines[1]
    assert (models / "request.card.json").exists() and (models / "behaviour.card.json").exists()
    result = runner.invoke(cli, ["anomalies", "--store", str(store), "--models", str(models)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("request level: 3,000 web requests scored, 0 anomalies (threshold ")
    assert runner.invoke(cli, ["anomalies", "--store", str(store), "--models", str(models)]).output == (
        f"no new events to score; store {store}\n")
    shown = runner.invoke(cli, ["models", "show", "--models", str(models)])
    assert shown.exit_code == 0 and '"status": "ok"' in shown.output
