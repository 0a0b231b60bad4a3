"""The HTML report over a store full of hostile log content: escaped everywhere, masked, offline, bounded.

The browser test loads the pages in headless Chromium (Debian's chromium and chromium-driver,
which .ci/run installs) and proves that no script ran and no request left the page.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware.cli import cli
from secaware.detect import detect
from secaware.incidents import incidents
from secaware.ingest import ingest
from secaware.privacy import luhn_ok, mask_pii, valid_id_number
from secaware.report import report

RULES = """
title: Script tag in request
id: 6f000000-0000-4000-8000-000000000001
level: high
tags: [attack.initial-access, attack.t1190]
logsource: {category: webserver}
detection:
  sel_q: {cs-uri-query|contains: ['<script', 'onload=', 'onerror=', 'javascript:']}
  sel_ua: {cs-user-agent|contains: '<script'}
  condition: 1 of sel_*
---
title: Personal data in the query string
id: 6f000000-0000-4000-8000-000000000002
level: medium
tags: [attack.collection, attack.t1005]
logsource: {category: webserver}
detection:
  sel: {cs-uri-query|contains: 'sfzh='}
  condition: sel
"""
INVENTORY = """
systems:
  - id: lz-portal
    name: 兰州市人民政府门户网站
    prefecture: "620100"
    level: 3
    logs: ["logs/lz/**"]
    hosts: ["lz-web-01"]
  - id: ts-portal
    name: 天水市门户 <b>bold</b>
    prefecture: "620500"
    level: 2
    logs: ["logs/ts/**"]
"""
T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
ID_NUMBER = "62010219900307123X"
MOBILE = "13912345678"
CARD = "6222021234567890128"
HOSTILE = [
    "q=<script>window.__pwned=1;fetch('http://198.51.100.1/x')</script>",
    "q=\\x22><svg onload=window.__pwned=2>",  # nginx writes a quote in the request as \x22
    "q=<img src=x onerror=window.__pwned=3>",
    "next=javascript:window.__pwned=4",
    "q={{7*7}}<script>window.__pwned=5</script>" + "A" * 5000,
]


def line(seconds: int, ip: str, query: str, ua: str = "Mozilla/5.0") -> str:
    t = (T0 + dt.timedelta(seconds=seconds)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    return f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET /index.php?{query} HTTP/1.1" 200 512 "-" "{ua}"'


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert valid_id_number(ID_NUMBER) and luhn_ok(CARD)
    root = tmp_path_factory.mktemp("hostile")
    (root / "rules.yml").write_text(RULES)
    (root / "inventory.yaml").write_text(INVENTORY)
    lz = [line(k, f"198.51.100.{k}", f"id={k}") for k in range(20)]
    lz += [line(100 + i, "203.0.113.66", q) for i, q in enumerate(HOSTILE)]
    lz += [line(200, "203.0.113.66", "x=1", ua="<script>window.__pwned=6</script>\x1b[2J")]
    lz += [line(300, "45.77.1.9", f"sfzh={ID_NUMBER}&tel={MOBILE}&card={CARD}")]
    for folder, lines in (("lz", lz), ("ts", [line(k, "198.51.100.7", "page=2") for k in range(5)])):
        (root / "logs" / folder).mkdir(parents=True)
        (root / "logs" / folder / "access.log").write_text("".join(x + "\n" for x in lines))
    store = root / "store"
    ingest([root / "logs"], store, settle_seconds=0)
    detect(store, [root / "rules.yml"])
    incidents(store, inventory=root / "inventory.yaml")
    out = root / "report"
    result = report(store, out, inventory=root / "inventory.yaml")
    return {"root": root, "store": store, "out": out, "index": Path(result.index)}


def all_output(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()}


def test_every_page_and_export_is_written(hostile) -> None:
    names = set(os.listdir(hostile["out"]))
    assert {"index.html", "appendix.html", "summary.json", "incidents.csv", "compliance.csv",
            "prefecture-620100.html", "prefecture-623000.html", "system-lz-portal.html"} <= names
    assert len([n for n in names if n.startswith("prefecture-")]) == 14
    incident_pages = [n for n in names if n.startswith("incident-")]
    assert len(incident_pages) == 2
    summary = json.loads((hostile["out"] / "summary.json").read_text())
    assert summary["incidents"] == 2 and summary["missing_tables"] == ["anomalies", "compliance"]
    index = (hostile["out"] / "index.html").read_text()
    assert "尚未运行" in index and "compliance" in index  # says plainly what is missing


def test_hostile_content_is_escaped_and_never_a_link(hostile) -> None:
    for name, text in all_output(hostile["out"]).items():
        if not name.endswith(".html"):
            continue
        assert "<script" not in text.lower(), name
        assert "<svg onload" not in text.lower() and "<img" not in text.lower(), name
        assert "\x1b" not in text, name
        for href in re.findall(r'href="([^"]*)"', text):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+\.html", href), (name, href)
        assert "<b>bold</b>" not in text, name  # an inventory name is text too
    pages = [t for n, t in all_output(hostile["out"]).items() if n.startswith("incident-")]
    joined = "\n".join(pages)
    assert "&lt;script&gt;window.__pwned=1" in joined and "onload=window.__pwned=2" in joined
    assert "{{7*7}}" in joined  # shown, never evaluated
    assert "A" * 1800 in joined and "A" * 2100 not in joined and "已截断, 5,1" in joined  # a raw line is cut at 2,000
    assert "处置建议" in joined and "bound method" not in joined


def test_personal_information_is_masked_in_every_output(hostile, tmp_path: Path) -> None:
    for name, text in all_output(hostile["out"]).items():
        for secret in (ID_NUMBER, MOBILE, CARD):
            assert secret not in text, (name, secret)
    pages = "\n".join(all_output(hostile["out"]).values())
    assert "620102********123X" in pages and "139****5678" in pages and "622202*********0128" in pages
    clear = report(hostile["store"], tmp_path / "clear", inventory=hostile["root"] / "inventory.yaml", mask=False)
    assert ID_NUMBER in "\n".join(all_output(Path(clear.out)).values())


def test_masking_only_touches_real_numbers() -> None:
    assert mask_pii(f"id={ID_NUMBER}") == "id=620102********123X"
    assert mask_pii("id=620102199003071231") == "id=620102199003071231"  # wrong check digit: not an ID
    assert mask_pii("order=6222021234567890129") == "order=6222021234567890129"  # fails Luhn
    assert mask_pii("t=20261123103000") == "t=20261123103000"


def test_english_and_one_prefecture(hostile, tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["report", "--store", str(hostile["store"]), "--out", str(tmp_path / "en"),
                                   "--lang", "en", "--prefecture", "兰州市", "--inventory",
                                   str(hostile["root"] / "inventory.yaml"), "--period", "2026-11-23..2026-11-24"])
    assert out.exit_code == 0, out.output
    assert out.output.strip().endswith("index.html")
    index = (tmp_path / "en" / "index.html").read_text()
    assert "Province at a glance" in index and 'lang="en"' in index
    assert [p.name for p in (tmp_path / "en").glob("prefecture-*.html")] == ["prefecture-620100.html"]


# --- in a real browser -------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (see .ci/run)")
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1300,1800"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def requests_made(driver) -> list[str]:  # type: ignore[no-untyped-def]
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_no_script_runs_and_no_request_leaves_the_page(hostile, browser) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    out = hostile["out"]
    shots = out.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    pages = ["index.html", "prefecture-620100.html", *sorted(p.name for p in out.glob("incident-*.html"))]
    for name in pages:
        browser.get((out / name).as_uri())
        assert browser.execute_script("return typeof window.__pwned") == "undefined", name
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 (raises when no dialog opened)
        assert browser.execute_script("return document.scripts.length") == 0, name
        made = requests_made(browser)
        assert made and all(u == (out / name).as_uri() or u.startswith("data:") for u in made), made
        if name in ("index.html", "prefecture-620100.html"):
            browser.save_screenshot(str(shots / name.replace(".html", ".png")))
    index_png = (shots / "index.png").read_bytes()
    assert index_png.startswith(b"\x89PNG") and len(index_png) > 30_000  # a rendered page, not a blank one
    browser.get((out / "index.html").as_uri())
    assert "甘肃省网络安全态势感知报告" in browser.title
    body = browser.find_element("tag name", "body").text
    assert "兰州市" in body and "全省概况" in body


def test_store_values_stay_text_in_the_browser(hostile, browser) -> None:
    page = next(hostile["out"].glob("incident-*.html"))
    browser.get(page.as_uri())
    text = browser.find_element("tag name", "body").text
    if "window.__pwned=1" in pl.Series([text]).str.replace_all(r"\s", "")[0]:
        assert "<script>window.__pwned=1" in text  # visible as text, exactly as the attacker sent it


def test_top_external_sources_count_an_ipv6_source_by_its_64(tmp_path: Path) -> None:
    """Eight script injections from eight addresses of one /64 are one source of eight alerts, ahead of an
    address with three; a private address, however busy, is no external source."""
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    lines = [line(k, f"240e:3cc:e12b:b5f6:{k + 1:x}::{k * 7 + 3:x}", "q=<script>alert(1)</script>") for k in range(8)]
    lines += [line(20 + k, "61.177.172.140", "q=<script>alert(2)</script>") for k in range(3)]
    lines += [line(40 + k, "10.1.1.1", "q=<script>alert(3)</script>") for k in range(10)]
    (tmp_path / "logs" / "lz").mkdir(parents=True)
    (tmp_path / "logs" / "lz" / "access.log").write_text("".join(x + "\n" for x in lines))
    store = tmp_path / "store"
    ingest([tmp_path / "logs"], store, settle_seconds=0)
    detect(store, [tmp_path / "rules.yml"])
    incidents(store, inventory=tmp_path / "inventory.yaml")
    report(store, tmp_path / "report", inventory=tmp_path / "inventory.yaml")
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["top_sources"] == [["240e:3cc:e12b:b5f6::/64", 8], ["61.177.172.140", 3]]
