"""Correlation rules: sliding windows, distinct counts, ordered and unordered sequences, aliases."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest

from secaware.detect.correlate import correlate
from secaware.detect.engine import ROW, match, matchable
from secaware.detect.rules import compile_rules

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)

BASE = """
title: Denied inbound connection
name: fw_deny
id: 7a000000-0000-4000-8000-000000000001
level: low
logsource: {category: firewall}
detection:
  sel: {action: deny}
  condition: sel
---
title: Web request
name: web_req
id: 7a000000-0000-4000-8000-000000000002
level: informational
logsource: {category: webserver}
detection:
  sel: {cs-method: GET}
  condition: sel
---
title: SSH failure
name: ssh_fail
id: 7a000000-0000-4000-8000-000000000003
level: low
logsource: {product: linux, service: sshd}
detection:
  sel: {event_action: login_failed}
  condition: sel
---
title: SSH success
name: ssh_ok
id: 7a000000-0000-4000-8000-000000000004
level: low
logsource: {product: linux, service: sshd}
detection:
  sel: {event_action: logged_in}
  condition: sel
"""


def events(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    return frame.with_row_index("event_id").with_columns(pl.col("event_id").cast(pl.Int64))


def run(tmp_path: Path, correlation: str, rows: list[dict]) -> pl.DataFrame:
    (tmp_path / "rules.yml").write_text(BASE + "---\ntitle: under test\nid: 7a000000-0000-4000-8000-0000000000ff\n"
                                        + correlation)
    comp = compile_rules([tmp_path])
    assert comp.failed == [] and len(comp.correlations) == 1
    frame = events(rows)
    tagged = matchable(frame).join(match(frame, comp.rules), on=ROW)
    return correlate(tagged, comp.correlations[0])


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_burst_across_a_minute_boundary_is_counted_whole(tmp_path: Path) -> None:
    """10 requests from 10:00:35 to 10:01:20: fixed one-minute buckets see 5 + 5, a sliding window sees 10."""
    rows = [{"ts": at(35 + 5 * k), "http_method": "GET", "src_ip": "203.0.113.5"} for k in range(10)]
    rows += [{"ts": at(10 * k), "http_method": "GET", "src_ip": "198.51.100.1"} for k in range(20)]  # 6 a minute
    out = run(tmp_path, "correlation: {type: event_count, rules: [web_req], group-by: [c-ip], timespan: 1m, "
                        "condition: {gte: 10}}\n", rows)
    assert out["group_key"].to_list() == ["src_ip=203.0.113.5"]
    assert (out["count"][0], out["first_ts"][0], out["ts"][0], out["last_ts"][0]) == (10, at(35), at(80), at(80))


def test_value_count_counts_distinct_values_per_group(tmp_path: Path) -> None:
    rows = [{"ts": at(k), "action": "deny", "src_ip": "203.0.113.7", "dst_port": 1000 + k} for k in range(25)]
    rows += [{"ts": at(k), "action": "deny", "src_ip": "198.51.100.2", "dst_port": 443} for k in range(100)]
    out = run(tmp_path, "correlation: {type: value_count, rules: [fw_deny], group-by: [src_ip], timespan: 1m, "
                        "condition: {gte: 20, field: dst_port}}\n", rows)
    assert out["group_key"].to_list() == ["src_ip=203.0.113.7"]
    assert out["value"][0] == 25 and out["ts"][0] == at(19) and out["count"][0] == 25


def test_episodes_far_apart_are_separate_alerts(tmp_path: Path) -> None:
    rows = [{"ts": at(k), "action": "deny", "src_ip": "203.0.113.7"} for k in range(5)]
    rows += [{"ts": at(3600 + k), "action": "deny", "src_ip": "203.0.113.7"} for k in range(5)]
    out = run(tmp_path, "correlation: {type: event_count, rules: [fw_deny], group-by: [src_ip], timespan: 1m, "
                        "condition: {gte: 5}}\n", rows)
    assert out["ts"].to_list() == [at(4), at(3604)] and out["count"].to_list() == [5, 5]


@pytest.mark.parametrize(("kind", "order", "fires"), [
    ("temporal_ordered", ["login_failed", "logged_in"], True),
    ("temporal_ordered", ["logged_in", "login_failed"], False),
    ("temporal", ["logged_in", "login_failed"], True),
])
def test_sequences_in_and_out_of_order(tmp_path: Path, kind: str, order: list[str], fires: bool) -> None:
    rows = [{"ts": at(60 * k), "event_action": action, "src_ip": "45.135.232.27"} for k, action in enumerate(order)]
    rows += [{"ts": at(0), "event_action": "login_failed", "src_ip": "10.1.1.1"},
             {"ts": at(3600), "event_action": "logged_in", "src_ip": "10.1.1.1"}]  # too far apart
    out = run(tmp_path, f"correlation: {{type: {kind}, rules: [ssh_fail, ssh_ok], group-by: [src_ip], "
                        "timespan: 10m}\n", rows)
    assert out["group_key"].to_list() == (["src_ip=45.135.232.27"] if fires else [])


def test_aliases_group_different_fields_and_no_group_by_is_one_group(tmp_path: Path) -> None:
    rows = [{"ts": at(1), "action": "deny", "src_ip": "203.0.113.9"},
            {"ts": at(2), "event_action": "login_failed", "user": "x", "src_ip": "10.0.0.1", "dst_ip": "203.0.113.9"}]
    aliased = run(tmp_path, "correlation:\n  type: temporal\n  rules: [fw_deny, ssh_fail]\n  group-by: [addr]\n"
                            "  timespan: 1m\n  aliases:\n    addr: {fw_deny: src_ip, ssh_fail: dst_ip}\n", rows)
    assert aliased["group_key"].to_list() == ["addr=203.0.113.9"]
    ungrouped = run(tmp_path, "correlation: {type: event_count, rules: [fw_deny, ssh_fail], timespan: 1m, "
                              "condition: {gte: 2}}\n", rows)
    assert ungrouped["group_key"].to_list() == ["*"] and ungrouped["count"][0] == 2


def test_unsupported_correlations_are_named(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(BASE + "---\ntitle: median\nid: 7a000000-0000-4000-8000-0000000000fe\n"
                                        "correlation: {type: value_median, rules: [fw_deny], timespan: 1m, "
                                        "condition: {gte: 2, field: bytes}}\n---\ntitle: missing base\n"
                                        "correlation: {type: event_count, rules: [nope], timespan: 1m, "
                                        "condition: {gte: 2}}\n")
    comp = compile_rules([tmp_path])
    reasons = sorted(r for _, r in comp.failed)
    assert len(reasons) == 2
    assert "value_median is not supported" in reasons[1] or "value_median is not supported" in reasons[0]
    assert any("nope" in r for r in reasons)


@pytest.mark.parametrize("condition", ["type: event_count, rules: [fw_deny], group-by: [src_ip], timespan: 1m, "
                                       "condition: {gte: 12}",
                                       "type: event_count, rules: [fw_deny], group-by: [src_ip], timespan: 90s, "
                                       "condition: {gt: 12}",
                                       "type: value_count, rules: [fw_deny], group-by: [src_ip], timespan: 1m, "
                                       "condition: {gte: 8, field: dst_port}"])
def test_groups_that_cannot_fire_are_left_out_with_the_same_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   condition: str) -> None:
    """A night's traffic has tens of thousands of sources and few reach a threshold: sliding windows
    are only computed for the groups some pair of neighbouring timespan-long buckets could carry
    over it. Bursts placed at random, many across bucket boundaries, give exactly the alerts that
    computing every group's windows gives."""
    from secaware.detect import correlate as correlation

    rng = random.Random(7)
    rows = []
    for source in range(300):
        start = rng.uniform(0, 3600)
        # most sources send a few packets; a tenth come near the thresholds or past them
        for _ in range(rng.choice([1, 2, 3, 5]) if rng.random() < 0.9 else rng.choice([9, 11, 12, 13, 15, 30])):
            rows.append({"ts": at(start + rng.uniform(0, 100)), "action": "deny",
                         "src_ip": f"198.51.{source // 250}.{source % 250}", "dst_port": rng.choice(range(20, 35))})
    windowed: list[int] = []
    real = correlation._windowed
    monkeypatch.setattr(correlation, "_windowed",
                        lambda rows, *a: (windowed.append(rows["src_ip"].n_unique()), real(rows, *a))[1])
    fast = run(tmp_path, f"correlation: {{{condition}}}\n", rows)
    monkeypatch.setattr(correlation, "_could_fire", lambda rows, corr, keys: rows)
    every = run(tmp_path, f"correlation: {{{condition}}}\n", rows)
    assert 3 <= fast.height < 30
    assert fast.equals(every)
    assert windowed[0] < windowed[1] / 5  # most sources were never windowed


def test_an_ipv6_source_is_counted_by_its_64_when_grouped_by_src_net(tmp_path: Path) -> None:
    """Every IPv6 host has a /64 and may send each guess from another address in it: per address,
    twelve failures from twelve addresses never reach a threshold of ten; per /64 they do. Other /64s
    stay apart, an IPv4 address is its own group and an IPv4-mapped one is the IPv4 host."""
    rotated = [{"ts": at(20 * k), "event_action": "login_failed", "src_ip": f"2001:db8:4f2:7a:{k:x}::{k * 37 + 1:x}"}
               for k in range(12)]
    spread = [{"ts": at(20 * k), "event_action": "login_failed", "src_ip": f"2001:db8:4f2:{k + 1:x}::5"}
              for k in range(12)]
    ipv4 = [{"ts": at(20 * k), "event_action": "login_failed",
             "src_ip": "61.177.172.140" if k % 2 else "::ffff:61.177.172.140"} for k in range(12)]
    rows = rotated + spread + ipv4
    by_net = run(tmp_path, "correlation: {type: event_count, rules: [ssh_fail], group-by: [src_net], timespan: 5m, "
                           "condition: {gte: 10}}\n", rows)
    assert sorted(by_net["group_key"].to_list()) == ["src_net=2001:db8:4f2:7a::/64", "src_net=61.177.172.140"]
    assert by_net["count"].to_list() == [12, 12]
    rotated_alert = by_net.row(by_net["group_key"].to_list().index("src_net=2001:db8:4f2:7a::/64"), named=True)
    # the alert keeps the address logged by the event that met the threshold, the tenth
    assert rotated_alert["src_ip"] == "2001:db8:4f2:7a:9::14e"
    by_address = run(tmp_path, "correlation: {type: event_count, rules: [ssh_fail], group-by: [src_ip], "
                               "timespan: 5m, condition: {gte: 10}}\n", rows)
    assert by_address["group_key"].to_list() == []  # rotated addresses, and the mapped and plain spellings


def test_src_net_can_be_counted_and_is_named_where_it_is_not_an_address(tmp_path: Path) -> None:
    """value_count over src_net: a login tried from many /64s is a distributed attack; addresses in
    one /64 count once. What is no address is its own group, as logged."""
    rows = [{"ts": at(k), "event_action": "login_failed", "user": "admin", "src_ip": f"2001:db8:9:{k % 3:x}::{k + 1:x}"}
            for k in range(30)]
    rows += [{"ts": at(k), "event_action": "login_failed", "user": "ops", "src_ip": f"2001:db8:9:{k:x}::1"}
             for k in range(5)]
    rows += [{"ts": at(1), "event_action": "login_failed", "user": "x", "src_ip": "not-an-address:1"}]
    out = run(tmp_path, "correlation: {type: value_count, rules: [ssh_fail], group-by: [user], timespan: 5m, "
                        "condition: {gte: 4, field: src_net}}\n", rows)
    assert out["group_key"].to_list() == ["user=ops"] and out["value"].to_list() == [5.0]  # admin: 3 /64s
    odd = run(tmp_path, "correlation: {type: event_count, rules: [ssh_fail], group-by: [src_net], timespan: 5m, "
                        "condition: {gte: 1}}\n", rows[-1:])
    assert odd["group_key"].to_list() == ["src_net=not-an-address:1"]


def test_group_keys_name_each_value_whatever_it_holds(tmp_path: Path) -> None:
    """User names come from the log: commas, backslashes and `=` in them stay inside their value."""
    from secaware.detect.correlate import group_parts

    users = ["root, src_net=10.4.250.10", "a\\", "a\\, b", "x=y", "\\\\,", "普通用户", ", ,"]
    rows = [{"ts": at(k), "event_action": "login_failed", "user": user, "src_ip": "203.0.113.5"}
            for user in users for k in range(3)]
    out = run(tmp_path, "correlation: {type: event_count, rules: [ssh_fail], group-by: [user, src_ip], "
                        "timespan: 1m, condition: {gte: 3}}\n", rows)
    assert sorted(map(group_parts, out["group_key"])) == sorted([("user", u), ("src_ip", "203.0.113.5")]
                                                                for u in users)
