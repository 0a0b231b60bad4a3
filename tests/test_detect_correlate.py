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
