"""IIS W3C extended logs: the header decides what each field means, and the header can change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from secaware.ingest import iis, ingest
from secaware.ingest._common import FileContext
from secaware.ingest.formats import resolve, sniff

UTC = dt.UTC

# log-formats.md, "IIS W3C extended": the header given there as the IIS 8.5 default, and the real
# line quoted under it (wazuh-ruleset PR 154).
HEADER_85 = ("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
             "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
EXAMPLE = ('2015-07-28 15:07:26 1.2.3.4 GET /QOsa/Browser/Default.aspx '
           'UISessionId=SN1234123&DeviceId=SN12312232SHARP+MX-4111N 80 - 31.3.3.7 '
           'OpenSystems/1.0;+product-family="85";+product-version="123ER123" 302 0 0 624')
# The example line has 14 fields: it carries no cs(Referer) (302 follows the User-Agent), which is
# the IIS 7.x default field set. Under that header it reads as an event.
HEADER_7 = HEADER_85.replace(" cs(Referer)", "")
PREAMBLE = ["#Software: Microsoft Internet Information Services 8.5", "#Version: 1.0",
            "#Date: 2015-07-28 15:07:26"]


def frame(lines: list[str], first: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {"raw": lines, "line_no": list(range(first, first + len(lines))), "warning": [None] * len(lines)},
        schema={"raw": pl.String, "line_no": pl.Int64, "warning": pl.String},
    )


def ctx() -> FileContext:
    return FileContext(path="/logs/u_ex150728.log", format="iis")


def events(out: pl.DataFrame) -> pl.DataFrame:
    return out.filter(pl.col("_reject").is_null() & ~pl.col("_skip"))


def test_example_line_under_its_own_field_set() -> None:
    out = iis.parse(frame([*PREAMBLE, HEADER_7, EXAMPLE]), ctx())
    assert out["_skip"].to_list() == [True, True, True, True, False]
    row = out.row(4, named=True)
    assert row["_reject"] is None
    assert row["ts"] == dt.datetime(2015, 7, 28, 15, 7, 26, tzinfo=UTC)
    assert row["dst_ip"] == "1.2.3.4"
    assert row["http_method"] == "GET"
    assert row["url_path"] == "/QOsa/Browser/Default.aspx"
    assert row["url_query"] == "UISessionId=SN1234123&DeviceId=SN12312232SHARP+MX-4111N"  # '+' kept in URLs
    assert row["dst_port"] == 80
    assert row["user"] is None
    assert row["src_ip"] == "31.3.3.7"
    assert row["user_agent"] == 'OpenSystems/1.0; product-family="85"; product-version="123ER123"'
    assert row["referer"] is None
    assert row["http_status"] == 302
    assert row["duration_ms"] == 624
    assert row["http_request"] == (
        "GET /QOsa/Browser/Default.aspx?UISessionId=SN1234123&DeviceId=SN12312232SHARP+MX-4111N")
    assert row["outcome"] == "success"
    assert row["event_category"] == "web"
    assert row["source"] == "iis"
    assert row["bytes"] is None and row["host"] is None and row["forwarded_for"] is None


def test_example_line_under_the_85_header_is_a_counted_reject() -> None:
    out = iis.parse(frame([*PREAMBLE, HEADER_85, EXAMPLE]), ctx())
    assert out["_reject"][4] == "14 fields where the #Fields: header has 15"


def test_all_mapped_fields_and_custom_forwarded_for() -> None:
    header = ("#Fields: date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port "
              "cs-username c-ip cs-version cs(User-Agent) cs(Referer) cs-host sc-status sc-substatus "
              "sc-win32-status sc-bytes cs-bytes time-taken X-Forwarded-For")
    line = ("2024-03-01 23:59:59 W3SVC2 WEB01 10.0.0.5 POST /login.aspx - 443 CORP\\zhang 10.0.0.1 HTTP/1.1 "
            "Mozilla/5.0+(Windows+NT+10.0) https://www.gansu.gov.cn/ www.gansu.gov.cn 401 1 2148074254 "
            "1293 845 15 203.0.113.9,+10.0.0.1")
    row = iis.parse(frame([header, line]), ctx()).row(1, named=True)
    assert row["_reject"] is None
    assert row["ts"] == dt.datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC)
    assert row["host"] == "WEB01"
    assert row["dst_ip"] == "10.0.0.5" and row["dst_port"] == 443
    assert row["src_ip"] == "10.0.0.1"
    assert row["user"] == "CORP\\zhang"
    assert row["url_query"] is None
    assert row["http_version"] == "HTTP/1.1"
    assert row["http_request"] == "POST /login.aspx HTTP/1.1"
    assert row["user_agent"] == "Mozilla/5.0 (Windows NT 10.0)"
    assert row["referer"] == "https://www.gansu.gov.cn/"
    assert row["url_domain"] == "www.gansu.gov.cn"
    assert row["http_status"] == 401 and row["outcome"] == "failure"
    assert row["bytes"] == 1293 and row["src_bytes"] == 845 and row["duration_ms"] == 15
    assert row["forwarded_for"] == "203.0.113.9,+10.0.0.1"


@pytest.mark.parametrize("name", ["X-Forwarded-For", "cs(X-Forwarded-For)"])
def test_forwarded_for_field_names(name: str) -> None:
    out = iis.parse(frame([f"#Fields: date time c-ip {name}", "2024-03-01 00:00:00 10.0.0.1 198.51.100.7"]), ctx())
    assert out["forwarded_for"][1] == "198.51.100.7"
    assert out["src_ip"][1] == "10.0.0.1"  # never taken from X-Forwarded-For


def test_directives_blank_lines_and_bad_lines() -> None:
    lines = ["2024-03-01 00:00:00 10.0.0.1", "#Software: Microsoft Internet Information Services 10.0",
             "", "#Fields: date time c-ip sc-status", "#Remark: restarted", "2024-03-01 00:00:01 10.0.0.1 200",
             "2024-03-01 00:00:02 10.0.0.1 200 extra", "#Comment: not W3C", "2024-13-01 00:00:03 10.0.0.1 200"]
    out = iis.parse(frame(lines), ctx())
    assert out["line_no"].to_list() == list(range(1, 10))
    assert out["_skip"].to_list() == [False, True, True, True, True, False, False, False, False]
    assert out["_reject"].to_list() == [
        "no #Fields: header before this line", None, None, None, None, None,
        "5 fields where the #Fields: header has 4", "unknown #directive",
        "unreadable date/time: 2024-13-01 00:00:03",
    ]


def test_two_header_blocks_with_different_field_orders() -> None:
    lines = ["#Fields: date time c-ip cs-method cs-uri-stem sc-status",
             "2024-03-01 08:00:00 10.1.1.1 GET /a 200",
             "#Software: Microsoft Internet Information Services 10.0",
             "#Fields: time date sc-status c-ip cs-uri-stem cs-method time-taken",
             "08:00:05 2024-03-01 404 10.2.2.2 /b HEAD 7",
             "08:00:06 2024-03-01 500 10.3.3.3 /c POST 9"]
    out = events(iis.parse(frame(lines), ctx()))
    assert out.select("line_no", "ts", "src_ip", "http_method", "url_path", "http_status", "duration_ms").rows() == [
        (2, dt.datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC), "10.1.1.1", "GET", "/a", 200, None),
        (5, dt.datetime(2024, 3, 1, 8, 0, 5, tzinfo=UTC), "10.2.2.2", "HEAD", "/b", 404, 7),
        (6, dt.datetime(2024, 3, 1, 8, 0, 6, tzinfo=UTC), "10.3.3.3", "POST", "/c", 500, 9),
    ]


def test_header_in_an_earlier_chunk_is_carried_in_state() -> None:
    c = ctx()
    first = iis.parse(frame([*PREAMBLE, "#Fields: date time c-ip sc-status"]), c)
    assert first["_skip"].all()
    assert c.state["fields"] == ["date", "time", "c-ip", "sc-status"]
    second = iis.parse(frame(["2015-07-28 15:10:00 10.0.0.9 403"], first=5), c)
    assert second.select("_reject", "src_ip", "http_status").row(0) == (None, "10.0.0.9", 403)
    third = iis.parse(frame(["#Fields: time c-ip", "15:11:00 10.0.0.8"], first=6), c)
    assert c.state["fields"] == ["time", "c-ip"]
    # no date field: the day comes from the last #Date: directive, also carried in state
    assert third["ts"][1] == dt.datetime(2015, 7, 28, 15, 11, tzinfo=UTC)


def test_sniff_picks_iis() -> None:
    assert sniff([*PREAMBLE, HEADER_7, EXAMPLE, EXAMPLE])[0] == "iis"
    # lines that disagree with their header are still IIS (they become counted rejects), not syslog
    assert sniff([*PREAMBLE, HEADER_85, EXAMPLE, EXAMPLE, EXAMPLE, EXAMPLE])[0] == "iis"
    assert iis.sniff(["Oct 11 22:14:15 mymachine su: 'su root' failed"]) == 0.0
    assert resolve("w3c") is resolve("iis")


def write(path: Path, lines: list[str], mode: str = "w") -> None:
    with open(path, mode, encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def read(store: Path, table: str) -> pl.DataFrame:
    return pl.read_delta(str(store / table))


@pytest.mark.write_disk
def test_pipeline_header_change_and_append(tmp_path: Path) -> None:
    log, store = tmp_path / "u_ex240301.log", tmp_path / "store"
    block1 = [*PREAMBLE, "#Fields: date time s-ip c-ip cs-method cs-uri-stem sc-status",
              "2024-03-01 01:00:00 10.0.0.5 10.9.9.1 GET /index.aspx 200",
              "2024-03-01 01:00:01 10.0.0.5 10.9.9.2 GET /admin 403",
              "2024-03-01 01:00:02 10.0.0.5 broken"]
    block2 = ["#Software: Microsoft Internet Information Services 8.5", "#Version: 1.0",
              "#Date: 2024-03-01 02:00:00", "#Fields: date time cs-method cs-uri-stem c-ip sc-status time-taken",
              "2024-03-01 02:00:00 POST /upload.aspx 10.9.9.3 500 31", ""]
    write(log, block1 + block2)
    report = ingest([log], store, settle_seconds=0)
    f = report.files[0]
    assert (f.format, f.lines) == ("iis", len(block1) + len(block2))
    assert f.events + f.rejects + f.skipped == f.lines
    assert (f.events, f.rejects, f.skipped) == (3, 1, 9)
    ev = read(store, "events").sort("line_no")
    assert ev.schema["ts"] == pl.Datetime("us", "UTC")
    assert ev.select("line_no", "ts", "src_ip", "http_method", "url_path", "http_status", "duration_ms").rows() == [
        (5, dt.datetime(2024, 3, 1, 1, 0, 0, tzinfo=UTC), "10.9.9.1", "GET", "/index.aspx", 200, None),
        (6, dt.datetime(2024, 3, 1, 1, 0, 1, tzinfo=UTC), "10.9.9.2", "GET", "/admin", 403, None),
        (12, dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=UTC), "10.9.9.3", "POST", "/upload.aspx", 500, 31),
    ]
    rej = read(store, "rejects")
    assert rej.select("line_no", "reason", "format").rows() == [
        (7, "4 fields where the #Fields: header has 7", "iis")]

    # IIS appends to today's file: only the new lines are read, under the header read last run.
    write(log, ["2024-03-01 03:00:00 GET /late.aspx 10.9.9.4 404 2"], mode="a")
    again = ingest([log], store, settle_seconds=0).files[0]
    assert (again.status, again.first_line, again.lines, again.events, again.rejects) == ("appended", 14, 1, 1, 0)
    late = read(store, "events").filter(pl.col("line_no") == 14).row(0, named=True)
    assert (late["url_path"], late["src_ip"], late["http_status"], late["duration_ms"]) == \
        ("/late.aspx", "10.9.9.4", 404, 2)
    assert late["ts"] == dt.datetime(2024, 3, 1, 3, 0, tzinfo=UTC)
    assert read(store, "events").height == 4
    assert ingest([log], store, settle_seconds=0).files[0].status == "unchanged"


@pytest.mark.write_disk
def test_pipeline_times_are_utc_whatever_the_configured_zone(tmp_path: Path) -> None:
    log = tmp_path / "u_ex.log"
    write(log, [HEADER_7, EXAMPLE])
    ingest([log], tmp_path / "store", tz="Asia/Shanghai", settle_seconds=0)
    ts = read(tmp_path / "store", "events")["ts"]
    assert ts.to_list() == [dt.datetime(2015, 7, 28, 15, 7, 26, tzinfo=UTC)]


@pytest.mark.write_disk
def test_pipeline_small_chunks_read_like_one_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers and the lines they govern land in different chunks; the result must not change."""
    lines = [*PREAMBLE, "#Fields: date time c-ip cs-uri-stem sc-status"]
    lines += [f"2024-03-01 00:00:{i:02d} 10.0.0.{i} /p{i} 200" for i in range(20)]
    lines += ["#Start-Date: 2024-03-01 00:01:00", "#Fields: sc-status cs-uri-stem c-ip time date"]
    lines += [f"404 /q{i} 10.1.0.{i} 00:01:{i:02d} 2024-03-01" for i in range(20)]
    log = tmp_path / "u_ex.log"
    write(log, lines)
    cols = ["line_no", "ts", "src_ip", "url_path", "http_status"]
    expected = events(iis.parse(frame(lines), ctx())).select(cols)
    assert expected.height == 40

    from functools import partial

    from secaware.ingest import reader
    monkeypatch.setattr(reader, "iter_chunks", partial(reader.iter_chunks, chunk_bytes=97))
    f = ingest([log], tmp_path / "store", settle_seconds=0).files[0]
    assert (f.lines, f.events, f.rejects, f.skipped) == (len(lines), 40, 0, 6)
    got = read(tmp_path / "store", "events").sort("line_no").select(cols)
    assert got.equals(expected)
