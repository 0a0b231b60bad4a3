"""The example runner: each rule's example lines parsed by their ingest format and matched by the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from secaware.detect.examples import run_examples
from secaware.detect.rules import compile_rules

RULE = """
title: UNION SELECT
id: 5c1d3f0e-8b4a-4c2e-9f6d-2a7b8c9d0e1f
status: experimental
level: high
tags: [attack.initial-access, attack.t1190, mlps.8.1.3.3]
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: 'union select'
  condition: sel
"""
HIT = '203.0.113.7 - - [23/Nov/2026:10:00:00 +0800] "GET /a.php?id=1%20union%20select%201 HTTP/1.1" 200 5 "-" "-"'
CLEAN = '203.0.113.7 - - [23/Nov/2026:10:00:00 +0800] "GET /a.php?id=1 HTTP/1.1" 200 5 "-" "-"'


def _run(tmp_path: Path, examples: str) -> list[tuple[str, bool, str]]:
    (tmp_path / "rule.yml").write_text(RULE + examples)
    compilation = compile_rules([tmp_path])
    assert compilation.failed == []
    return [(r.expected, r.passed, r.reason) for r in run_examples(compilation)]


def test_passing_and_failing_examples_say_why(tmp_path: Path) -> None:
    results = _run(tmp_path, f"""examples:
  format: nginx
  match:
    - '{HIT}'
    - '{CLEAN}'
  nomatch:
    - '{CLEAN}'
    - '{HIT}'
""")
    assert [(e, ok) for e, ok, _ in results] == [("match", True), ("match", False), ("nomatch", True),
                                                  ("nomatch", False)]
    assert results[1][2] == "expected match, but the rule does not match it; the rule sees url_query='id=1'"
    assert results[3][2].startswith("expected nomatch, but the rule matches it; the rule sees url_query='id=1 union")


@pytest.mark.parametrize(("examples", "reason"), [
    ("", "the rule has no examples"),
    ("examples:\n  format: apache2\n  match: ['x']\n  nomatch: ['y']\n", "examples.format 'apache2' is not an ingest"),
    (f"examples:\n  format: combined\n  match: ['{HIT}']\n", "the rule has no `nomatch` examples"),
    (f"examples:\n  format: combined\n  match: ['not a log line']\n  nomatch: ['{CLEAN}']\n",
     "the combined parser rejects this line"),
    (f"examples:\n  format: combined\n  match:\n    - |\n      {HIT}\n      {HIT}\n  nomatch: ['{CLEAN}']\n",
     "a single-event example is one log line"),
])
def test_what_to_fix_is_named(tmp_path: Path, examples: str, reason: str) -> None:
    failed = [r for r in _run(tmp_path, examples) if not r[1]]
    assert len(failed) == 1 and failed[0][2].startswith(reason), failed


def test_header_lines_are_parsed_first(tmp_path: Path) -> None:
    header = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip cs(User-Agent) sc-status"
    line = "2026-11-23 02:00:00 10.5.2.10 GET /Notice.aspx id=1+union+select+1 80 203.0.113.7 sqlmap/1.8 200"
    results = _run(tmp_path, f"examples:\n  format: iis\n  header: ['{header}']\n  match: ['{line}']\n"
                             f"  nomatch: ['{line.replace('+union+select+1', '')}']\n")
    assert all(ok for _, ok, _ in results), results


CORRELATED = """
title: Failed SSH login
id: 0b6f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4a5b
name: failed
status: experimental
logsource: {product: linux, service: sshd}
detection:
  sel:
    event_action: login_failed
  condition: sel
examples:
  format: sshd
  match: ['Nov 23 01:12:00 h sshd[1]: Failed password for root from 198.51.100.7 port 1 ssh2']
  nomatch: ['Nov 23 01:12:00 h sshd[1]: Accepted password for root from 198.51.100.7 port 1 ssh2']
---
title: Three failures in a minute
id: 1c7a5d4f-2e3b-4f6a-9b0c-1d2e3f4a5b6c
status: experimental
level: medium
correlation:
  type: event_count
  rules: [failed]
  group-by: [src_ip]
  timespan: 1m
  condition: {gte: 3}
examples:
  format: sshd
  match:
    - |
      Nov 23 01:12:00 h sshd[1]: Failed password for root from 198.51.100.7 port 1 ssh2
      Nov 23 01:12:20 h sshd[1]: Failed password for root from 198.51.100.7 port 2 ssh2
      Nov 23 01:12:40 h sshd[1]: Failed password for root from 198.51.100.7 port 3 ssh2
  nomatch:
    - |
      Nov 23 01:12:00 h sshd[1]: Failed password for root from 198.51.100.7 port 1 ssh2
      Nov 23 01:12:20 h sshd[1]: Failed password for root from 198.51.100.8 port 2 ssh2
      Nov 23 01:13:40 h sshd[1]: Failed password for root from 198.51.100.7 port 3 ssh2
"""


def test_correlation_examples_run_through_correlate(tmp_path: Path) -> None:
    (tmp_path / "corr.yml").write_text(CORRELATED)
    compilation = compile_rules([tmp_path])
    assert compilation.failed == [] and len(compilation.correlations) == 1
    results = run_examples(compilation)
    assert [(r.title, r.expected, r.passed) for r in results] == [
        ("Failed SSH login", "match", True), ("Failed SSH login", "nomatch", True),
        ("Three failures in a minute", "match", True), ("Three failures in a minute", "nomatch", True)]


def test_correlation_example_that_does_not_hold_says_why(tmp_path: Path) -> None:
    swapped = CORRELATED.replace("  match:\n    - |", "  MATCH:\n    - |").replace(
        "  nomatch:\n    - |", "  match:\n    - |").replace("  MATCH:\n    - |", "  nomatch:\n    - |")
    (tmp_path / "corr.yml").write_text(swapped)
    results = [r for r in run_examples(compile_rules([tmp_path])) if r.title == "Three failures in a minute"]
    reasons = sorted(r.reason for r in results)
    assert reasons == [
        "expected match, but the correlation did not fire; 3 of 3 lines matched its base rules",
        "expected nomatch, but the correlation fired for src_ip=198.51.100.7 (value 3)"]
