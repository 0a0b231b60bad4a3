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
