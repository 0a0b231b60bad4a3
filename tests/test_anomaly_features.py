"""Behaviour features: which entity a window counts, read from real parsed events."""

from __future__ import annotations

import datetime as dt

import polars as pl

from secaware.anomaly.features import FEATURE_SETS
from secaware.ingest._common import FileContext
from secaware.ingest.formats import FORMATS
from secaware.ingest.reader import LINES_SCHEMA
from secaware.schema import EVENTS, conform

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))


def web_events(requests: list[tuple[int, str, str]]) -> pl.LazyFrame:
    """(seconds, client, path) as nginx combined lines, parsed by the combined parser."""
    lines = [f'{ip} - - [{(T0 + dt.timedelta(seconds=s)).astimezone(CST).strftime("%d/%b/%Y:%H:%M:%S %z")}] '
             f'"GET {path} HTTP/1.1" 404 150 "-" "Mozilla/5.0"' for s, ip, path in requests]
    frame = pl.DataFrame({"raw": lines, "line_no": range(1, len(lines) + 1), "warning": [None] * len(lines)},
                         schema=LINES_SCHEMA)
    parsed = FORMATS["combined"].parse(frame, FileContext(path="/logs/620100-lanzhou/lz-portal/access.log",
                                                          format="combined"))
    return conform(parsed.with_columns(pl.lit(0, dtype=pl.Int64).alias("batch_id"),
                                       pl.int_range(pl.len()).cast(pl.Int64).alias("event_id"),
                                       pl.lit("620100").alias("prefecture"),
                                       pl.lit("/logs/620100-lanzhou/lz-portal/access.log").alias("file")), EVENTS)


def test_an_ipv6_source_is_one_entity_per_64_and_a_baseline_of_addresses_still_knows_it() -> None:
    """A scanner that sends each of its 60 probes from another address of its /64 is one source probing 60
    paths in the hour, not 60 sources of one request each; IPv4 sources stay one entity per address. A
    baseline learnt when entities were addresses still knows the /64 of an address it saw."""
    scan = [(30 * k, f"240e:3cc:e12b:b5f6:{k:x}::{k + 1:x}", f"/admin{k}.php") for k in range(60)]
    plain = [(40 * k, "61.177.172.140", "/index.html") for k in range(5)]
    events = web_events(scan + plain)
    fs = FEATURE_SETS["web_source_hour"]
    rows = fs.compute(events).collect().sort("entity")
    assert rows.select("entity", "requests", "distinct_paths").rows() == [
        ("240e:3cc:e12b:b5f6::/64", 60.0, 60.0), ("61.177.172.140", 5.0, 1.0)]
    assert rows["new_source"].to_list() == [1.0, 1.0]
    # first-seen tables as an older version wrote them: one of the /64's addresses, and the IPv4 source
    old = {"entities": pl.DataFrame({"value": ["240e:3cc:e12b:b5f6:9::a", "61.177.172.140"],
                                     "first": [T0 - dt.timedelta(days=3)] * 2})}
    known = fs.compute(events, known=old).collect().sort("entity")
    assert known["new_source"].to_list() == [0.0, 0.0]
    # what this version learns is the /64
    learnt = fs.known_sets(events)["entities"].collect()["value"].sort().to_list()
    assert learnt == ["240e:3cc:e12b:b5f6::/64", "61.177.172.140"]


def auth_events(lines: list[str]) -> pl.LazyFrame:
    frame = pl.DataFrame({"raw": lines, "line_no": range(1, len(lines) + 1), "warning": [None] * len(lines)},
                         schema=LINES_SCHEMA)
    parsed = FORMATS["syslog"].parse(frame, FileContext(path="/logs/620100-lanzhou/lz-oa/auth.log", format="syslog"))
    return conform(parsed.with_columns(pl.lit(0, dtype=pl.Int64).alias("batch_id"),
                                       pl.int_range(pl.len()).cast(pl.Int64).alias("event_id"),
                                       pl.lit("620100").alias("prefecture"),
                                       pl.lit("/logs/620100-lanzhou/lz-oa/auth.log").alias("file")), EVENTS)


def test_an_accounts_sources_count_an_ipv6_source_by_its_64() -> None:
    """An administrator whose laptop changes its temporary IPv6 address logs in from one source, not
    three; a baseline that saw one of those addresses knows the /64, so none of the logins is from a
    new source. A login from another /64 is."""
    def login(minute: int, address: str) -> str:
        return (f"2026-11-23T10:{minute:02d}:00+08:00 lz-oa-01 sshd[4242]: Accepted password for ops from {address} "
                f"port {50000 + minute} ssh2")

    events = auth_events([login(1, "2409:8a62:3b6:4ad7:1c2d::5"), login(20, "2409:8a62:3b6:4ad7:9e1f::77"),
                          login(40, "2409:8a62:3b6:4ad7::a"), login(50, "240e:3cc:e12b:b5f6::9")])
    fs = FEATURE_SETS["auth_account_day"]
    [row] = fs.compute(events).collect().to_dicts()
    assert (row["entity"], row["successes"], row["distinct_sources"], row["new_sources"]) == ("ops@lz-oa-01", 4.0,
                                                                                            2.0, 2.0)
    # as an older version wrote them: the account with one address of the /64
    old = {"pairs": pl.DataFrame({"value": ["ops@lz-oa-01|2409:8a62:3b6:4ad7:1c2d::5"],
                                  "first": [T0 - dt.timedelta(days=3)]})}
    [row] = fs.compute(events, known=old).collect().to_dicts()
    assert row["new_sources"] == 1.0  # only the other /64
