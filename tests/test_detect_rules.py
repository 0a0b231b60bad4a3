"""Loading, mapping and compiling rule files: the SigmaHQ webserver rules and broken input."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from secaware.detect.rules import compile_rules, field_mapping

WEB_RULE = """
title: SQL injection in the query string
id: 0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d
status: experimental
level: high
tags: [attack.initial-access, attack.t1190]
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: 'union select'
  filter_scanner:
    c-ip: 10.1.9.9
  condition: sel and not filter_scanner
"""


def test_sigma_taxonomy_names_map_onto_event_columns(tmp_path: Path) -> None:
    mapping = field_mapping()
    assert (mapping["cs-uri-query"], mapping["c-ip"], mapping["sc-status"], mapping["cs-user-agent"]) == (
        "url_query", "src_ip", "http_status", "user_agent")
    (tmp_path / "sqli.yml").write_text(WEB_RULE)
    result = compile_rules([tmp_path])
    assert result.failed == []
    [rule] = result.rules
    assert (rule.title, rule.level, rule.rule_id) == ("SQL injection in the query string", "high",
                                                      "0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d")
    assert "attack.t1190" in rule.tags
    events = pl.DataFrame({"url_query": ["id=1 UNION SELECT 1", "id=1 union select 1", "id=2"],
                           "src_ip": ["203.0.113.9", "10.1.9.9", "203.0.113.9"]})
    assert events.with_row_index().filter(rule.predicate)["index"].to_list() == [0]


def test_broken_files_and_unknown_fields_are_named_and_the_rest_compiles(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(WEB_RULE)
    (tmp_path / "broken.yml").write_text("title: [unclosed\n  detection: {")
    (tmp_path / "nocondition.yml").write_text(WEB_RULE.replace("  condition: sel and not filter_scanner\n", ""))
    (tmp_path / "unknownfield.yml").write_text(WEB_RULE.replace("cs-uri-query", "cs-cookie-jar"))
    # src_net is a correlation's field: a detection that names it is told what to write instead
    (tmp_path / "srcnet.yml").write_text(WEB_RULE.replace("c-ip: 10.1.9.9", "src_net: 10.1.9.9"))
    result = compile_rules([tmp_path])
    assert [r.title for r in result.rules] == ["SQL injection in the query string"]
    reasons = {Path(f).name: reason for f, reason in result.failed}
    assert set(reasons) == {"broken.yml", "nocondition.yml", "unknownfield.yml", "srcnet.yml"}
    assert "src_net is for correlations' group-by" in reasons["srcnet.yml"] and "src_ip" in reasons["srcnet.yml"]
    assert reasons["broken.yml"].startswith("not a readable Sigma rule file")
    assert "condition" in reasons["nocondition.yml"].lower()
    assert reasons["unknownfield.yml"] == "uses fields the events table does not have: cs-cookie-jar"


def test_a_date_that_does_not_exist_fails_its_file_with_the_line_not_the_run(tmp_path: Path) -> None:
    """PyYAML turns `date: 2026-13-45` into a bare ValueError while pySigma reads the file: it stopped
    `rules check` and `detect` for every rule. Now that file fails, naming the line, as nesting too
    deep to read does, and the other rules compile."""
    (tmp_path / "good.yml").write_text(WEB_RULE)
    (tmp_path / "baddate.yml").write_text(WEB_RULE.replace("status: experimental", "date: 2026-13-45"))
    (tmp_path / "deep.yml").write_text("title: " + "[" * 3000 + "]" * 3000 + "\n")
    result = compile_rules([tmp_path])
    assert [r.title for r in result.rules] == ["SQL injection in the query string"]
    reasons = {Path(f).name: reason for f, reason in result.failed}
    assert set(reasons) == {"baddate.yml", "deep.yml"}
    assert "'2026-13-45' is not a real date" in reasons["baddate.yml"] and "line 4" in reasons["baddate.yml"]
    assert "baddate.yml" in reasons["baddate.yml"]
    assert "nested too deeply" in reasons["deep.yml"]


def test_a_regex_the_engine_cannot_compile_fails_its_rule_not_the_run(tmp_path: Path) -> None:
    """pySigma accepts a regex Rust's regex engine rejects (nested 300 deep: Rust stops at 250); found
    when compiling, it is that rule's failure, and the other rules run."""
    from secaware.detect.engine import match
    from secaware.schema import EVENTS, conform

    (tmp_path / "good.yml").write_text(WEB_RULE)
    deep = "(?:" * 300 + "union" + ")" * 300
    (tmp_path / "deep.yml").write_text(WEB_RULE.replace("cs-uri-query|contains: 'union select'", f"cs-uri-query|re: '{deep}'")
                                       .replace("0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d", "0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c61"))
    result = compile_rules([tmp_path])
    [(where, reason)] = result.failed
    assert Path(where).name == "deep.yml"
    assert "nested" in reason and "simplify the regular expression" in reason and "(?:(?:" not in reason
    events = conform(pl.DataFrame({"url_query": ["id=1 union select 1", "id=2"]}), EVENTS).collect()
    assert match(events, result.rules)["__row"].to_list() == [0]


def test_sigmahq_webserver_rules_convert(datasets: Path) -> None:
    """At least 95% of the public webserver rules compile; every other one is named with its reason."""
    shared = datasets.parent / "sigmahq"
    files = [p for p in shared.rglob("*.yml") if "category: webserver" in p.read_text(errors="replace")]
    assert len(files) >= 80
    result = compile_rules(files)
    assert len(result.rules) + len(result.failed) == len(files)
    assert len(result.rules) / len(files) >= 0.95
    for file, reason in result.failed:
        assert file.endswith(".yml") and reason


def test_only_rules_spelling_encoded_text_are_run_on_the_logged_text(tmp_path: Path) -> None:
    """`%2e%2e%2f` in a rule means the encoded form; a regular expression that spells an encoding runs
    on both forms (decoding can mangle a payload such as overlong UTF-8), one that spells none and a
    plain keyword only on the decoded text."""
    (tmp_path / "enc.yml").write_text(WEB_RULE.replace("cs-uri-query|contains: 'union select'",
                                                       "cs-uri-query|contains: '%2e%2e%2f'"))
    (tmp_path / "re.yml").write_text(WEB_RULE.replace("cs-uri-query|contains: 'union select'",
                                                      "cs-uri-query|re: 'union\\s+select'")
                                     .replace("0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d", "0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5e"))
    (tmp_path / "re_enc.yml").write_text(WEB_RULE.replace("cs-uri-query|contains: 'union select'",
                                                          "cs-uri-query|re: '(?i)(%c0%ae){2}'")
                                         .replace("0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d",
                                                  "0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5f"))
    (tmp_path / "plain.yml").write_text(WEB_RULE.replace("0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d",
                                                         "0e2c3b1a-5d6f-4a7b-8c9d-0e1f2a3b4c60"))
    encoded = {Path(r.file).name: r.encoded for r in compile_rules([tmp_path]).rules}
    assert encoded == {"enc.yml": True, "re.yml": False, "re_enc.yml": True, "plain.yml": False}


def test_rules_check_prints_the_reason_once_without_re2s_own_stderr_lines(tmp_path: Path) -> None:
    """pySigma checks regular expressions with RE2, whose C++ library printed its own copy of the
    error on stderr (with an absl logging warning): the rule's reason, once, is what is shown."""
    import subprocess
    import sys

    (tmp_path / "good.yml").write_text(WEB_RULE)
    (tmp_path / "lookbehind.yml").write_text(WEB_RULE.replace("cs-uri-query|contains: 'union select'",
                                                              "cs-uri-query|re: '(?<=admin)\\d+'"))
    done = subprocess.run([sys.executable, "-m", "secaware", "rules", "check", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "lookbehind.yml" in done.stdout and "invalid perl operator" in done.stdout
    assert "re2.cc" not in done.stderr and "absl" not in done.stderr, done.stderr
