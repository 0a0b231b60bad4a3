"""Request level: character classes, endpoints, the profile's verdicts and the reasons it gives."""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import polars as pl
import pytest

from secaware.anomaly.request import RequestProfile, class_labels, class_masks, normalize_endpoint


@pytest.mark.parametrize(("value", "labels"), [
    ("1024", ["digits"]),
    ("1024' or 1=1--", ["digits", "lower-case letters", "spaces", "quote (')", "equals sign (=)", "hyphen (-)"]),
    ("../../etc/passwd", ["lower-case letters", "slash (/)", "dot (.)", "a dot-dot (..)"]),
    ("社保查询", ["non-ASCII characters"]),
    ("<script>", ["lower-case letters", "less-than (<)", "greater-than (>)"]),
    ("a.b.c", ["lower-case letters", "dot (.)"]),  # dots, but never two in a row
    ("", []),
    (None, []),
])
def test_class_masks(value: str | None, labels: list[str]) -> None:
    mask = class_masks(pl.Series([value], dtype=pl.String))[0]
    assert class_labels(mask) == labels


def test_a_dot_dot_is_not_seen_across_two_values() -> None:
    masks = class_masks(pl.Series(["a.", ".b", "x"] * 400_000))  # crosses the numpy chunk boundary too
    assert not any(m >> 38 & 1 for m in masks.unique().to_list())


@pytest.mark.parametrize(("path", "endpoint"), [
    ("/zwgk/tzgg/202611/t20261123_1234567.html", "/zwgk/tzgg/{n}/t{n}_{n}.html"),
    ("/api/v2/item/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/api/v{n}/item/{uuid}"),
    ("/static/js/app.9f86d081884c7d65.js", "/static/js/app.{hex}.js"),
    ("/xxgk/detail", "/xxgk/detail"),
    ("/搜索", "/搜索"),
])
def test_endpoints_collapse_what_varies(path: str, endpoint: str) -> None:
    assert pl.select(normalize_endpoint(pl.lit(path))).item() == endpoint


def portal_requests(n: int, seed: int) -> pl.DataFrame:
    """Ordinary requests to one government portal: articles by id, a search box, a paged list."""
    rng = random.Random(seed)
    terms = ["社保查询", "公积金提取", "营业执照", "不动产登记", "医保报销", "户籍迁移"]
    rows = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.5:
            rows.append(("GET", "/xxgk/detail", f"id={rng.randint(1000, 99999)}"))
        elif kind < 0.8:
            rows.append(("GET", "/search", f"q={quote(rng.choice(terms))}&page={rng.randint(1, 5)}"))
        elif kind < 0.95:
            rows.append(("GET", "/api/list", f"page={rng.randint(1, 40)}&size=10&type={rng.choice(['tzgg', 'zcjd'])}"))
        else:
            rows.append(("POST", "/search", None))
    return pl.DataFrame(rows, schema=["http_method", "url_path", "url_query"], orient="row").with_columns(
        site=pl.lit("www.lanzhou.gov.cn"))


@pytest.fixture(scope="module")
def profile() -> RequestProfile:
    return RequestProfile().fit(portal_requests(4000, seed=1))


def score_one(profile: RequestProfile, method: str, path: str, query: str | None) -> dict[str, object]:
    frame = pl.DataFrame({"http_method": [method], "url_path": [path], "url_query": [query],
                          "site": ["www.lanzhou.gov.cn"]})
    return profile.score(frame, explain_at=0.0).row(0, named=True)


@pytest.mark.parametrize(("method", "path", "query", "should_flag"), [
    ("GET", "/xxgk/detail", "id=48213", False),
    ("GET", "/search", f"q={quote('营业执照')}&page=2", False),
    ("GET", "/api/list", "page=7&size=10&type=zcjd", False),
    ("GET", "/xxgk/detail", "id=48213%27%3B--", True),  # quote, semicolon
    ("GET", "/xxgk/detail", "id=-1+union+select+1,2,user()--+", True),
    ("GET", "/search", "q=%3Cscript%3Ealert(1)%3C/script%3E&page=1", True),
    ("GET", "/api/list", "page=1&size=10&type=../../../../etc/passwd", True),
    ("GET", "/api/list", "page=1&size=10&type=tzgg&debug=1", True),  # a parameter the endpoint never had
    ("GET", "/api/list", "page=1&size=10&type=admin", True),  # a value a two-valued parameter never took
    ("PUT", "/xxgk/detail", "id=48213", True),
    ("GET", "/xxgk/detail", "id=" + "9" * 400, True),  # 400 digits where ids have 4 or 5
    ("GET", "/WEB-INF/web.xml", None, True),  # an endpoint the site never had
])
def test_requests_that_do_not_fit_are_flagged(profile: RequestProfile, method: str, path: str, query: str | None,
                                              should_flag: bool) -> None:
    row = score_one(profile, method, path, query)
    assert row["scored"]
    assert (row["score"] >= profile.threshold_) == should_flag, row


def test_the_explanation_names_the_parameter_what_it_usually_is_and_what_this_value_has(profile) -> None:
    value = "48213' AND 1=CONVERT(int,(SELECT @@version));--"
    row = score_one(profile, "GET", "/xxgk/detail", "id=" + quote(value))
    assert row["score"] >= profile.threshold_
    first = row["explanation"].split("; ")[0]
    assert re.fullmatch(
        r"parameter `id` is numeric in 100\.0% of [\d,]+ baseline requests to /xxgk/detail, but this value has 47 "
        r"characters including .*quote \('\).*semicolon \(;\).*", first), first
    top = row["deviations"][0]
    assert top["feature"] == "parameter id: characters" and top["typical"] == "numeric (100.0%)"
    assert "47 characters" in top["observed"]


def test_an_unknown_parameter_is_named_with_the_ones_the_endpoint_has(profile) -> None:
    row = score_one(profile, "GET", "/api/list", "page=1&size=10&type=tzgg&cmd=whoami")
    assert "parameter `cmd` never appears in" in row["explanation"]
    assert "`page`" in row["explanation"] and "`size`" in row["explanation"]


def test_a_site_without_a_baseline_is_not_scored(profile) -> None:
    frame = pl.DataFrame({"http_method": ["GET"], "url_path": ["/x"], "url_query": ["id=1'"],
                          "site": ["unknown.example"]})
    row = profile.score(frame).row(0, named=True)
    assert not row["scored"] and row["score"] == 0.0


def test_in_sample_scoring_compares_each_request_with_the_others_only() -> None:
    frame = portal_requests(2000, seed=3)
    frame = pl.concat([frame, pl.DataFrame({"http_method": ["GET"], "url_path": ["/xxgk/detail"],
                                            "url_query": ["id=1%27--"], "site": ["www.lanzhou.gov.cn"]})])
    fitted = RequestProfile().fit(frame)  # the attack is part of the data at hand
    scores = fitted.score(frame, in_sample=True)["score"]
    assert scores[-1] >= fitted.threshold_  # compared with itself, the quote would look familiar
    assert (scores[:-1] >= fitted.threshold_).mean() < 0.01


def _csic(path: Path) -> list[tuple[str, str, str | None]]:
    out = []
    with gzip.open(path, "rt", encoding="latin-1") as f:
        for line in f:
            if line.startswith(("GET ", "POST ", "PUT ")):
                method, url, _ = line.split(" ", 2)
                parts = urlsplit(url)
                out.append((method, parts.path, parts.query or None))
    return out


@pytest.mark.slow
def test_csic_2010_attacks_in_parameters_are_found_with_few_false_positives(datasets: Path) -> None:
    """Train on CSIC 2010 normal requests, hold some back, put published payloads into parameters."""
    rows = _csic(datasets / "csic2010" / "normalTrafficTraining.txt.gz")
    rng = random.Random(5)
    rng.shuffle(rows)
    frame = pl.DataFrame(rows, schema=["http_method", "url_path", "url_query"], orient="row", strict=False
                         ).with_columns(site=pl.lit("shop"))
    train, held = frame.head(25_000), frame.slice(25_000)
    fitted = RequestProfile().fit(train)
    normal = fitted.score(held)["score"]
    assert (normal >= fitted.threshold_).mean() <= 0.005
    payloads = []
    for name in ("payloadbox-sqli/Intruder/detect/Generic_SQLI.txt", "payloadbox-xss/Intruder/xss-payload-list.txt",
                 "PayloadsAllTheThings/Directory Traversal/Intruder/directory_traversal.txt",
                 "PayloadsAllTheThings/Command Injection/Intruder/command-execution-unix.txt"):
        lines = [x.strip() for x in (datasets / "payloads" / name).read_text(errors="replace").splitlines()]
        lines = [x for x in lines if x]
        payloads += rng.sample(lines, min(100, len(lines)))
    gets = held.filter(pl.col("url_query").is_not_null())
    attacks = []
    for payload in payloads:
        method, path, query, site = gets.row(rng.randrange(gets.height))
        params = query.split("&")
        k = rng.randrange(len(params))
        params[k] = params[k].split("=")[0] + "=" + quote(payload, safe="")
        attacks.append((method, path, "&".join(params), site))
    scored = fitted.score(pl.DataFrame(attacks, schema=frame.columns, orient="row"))["score"]
    assert (scored >= fitted.threshold_).mean() >= 0.9
