"""match(): the prefilter changes how fast, never what matches; decoding and encoded rules; terms of rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sigma.collection import SigmaCollection

from secaware.detect import engine
from secaware.detect.backend import PolarsBackend
from secaware.detect.decode import decode_series
from secaware.detect.engine import ROW, match, matchable
from secaware.detect.prefilter import (
    FOLDS_TO_ASCII,
    Plan,
    Term,
    _groupable,
    necessary_terms,
    regex_gate,
    regex_scan,
    terms_suffice,
)
from secaware.detect.rules import compile_rules, events_pipeline
from secaware.schema import EVENTS, conform
from tests.conftest import ROOT, parse_frame
from tests.test_detect_equivalence import EXTRA_RULES, web_event_lines, webserver_rule_files


@pytest.fixture(scope="module")
def rules_and_events(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list, pl.DataFrame]:
    extra = tmp_path_factory.mktemp("rules") / "extra.yml"
    extra.write_text(EXTRA_RULES + TRICKY_RULES, encoding="utf-8")
    files = [*webserver_rule_files(), extra, *sorted((ROOT / "rules" / "web").rglob("*.yml"))]
    parsed = parse_frame("combined", web_event_lines(datasets, files) + TRICKY_LINES)
    events = conform(parsed.filter(pl.col("_reject").is_null()), EVENTS).collect()
    return compile_rules(files).rules, events


#: Rules whose matching leans on case folding and on wildcards around the literals the prefilter looks for.
TRICKY_RULES = """
---
title: kelvin in a wildcard
id: 5b0c8a7e-0002-4f00-9000-000000000001
logsource: {category: webserver}
detection:
  sel:
    cs-user-agent: '*sqlmap*/1.?*'
  condition: sel
---
title: long s under regex folding
id: 5b0c8a7e-0002-4f00-9000-000000000002
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem: '*/wp-admin/*setup*'
  condition: sel
---
title: dotted capital I
id: 5b0c8a7e-0002-4f00-9000-000000000003
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: 'admi'
  condition: sel
---
title: Chinese literal
id: 5b0c8a7e-0002-4f00-9000-000000000004
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: '一句话木马'
  condition: sel
---
title: cased non-ASCII
id: 5b0c8a7e-0002-4f00-9000-000000000005
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|cased|contains: 'Überweisung'
  condition: sel
"""

TRICKY_LINES = [
    '45.1.2.3 - - [28/Nov/2026:11:00:00 +0800] "GET / HTTP/1.1" 200 1 "-" "sqlmap/1.7#stable"',
    '45.1.2.3 - - [28/Nov/2026:11:00:01 +0800] "GET / HTTP/1.1" 200 1 "-" "SQLMAP/1.7 (\u212aelvin)"',
    '45.1.2.3 - - [28/Nov/2026:11:00:02 +0800] "GET / HTTP/1.1" 200 1 "-" "\u017fqlmap/1.8"',
    '45.1.2.3 - - [28/Nov/2026:11:00:03 +0800] "GET /blog/wp-admin/\u017fetup-config.php HTTP/1.1" 200 1 "-" "-"',
    '45.1.2.3 - - [28/Nov/2026:11:00:04 +0800] "GET /blog/WP-ADMIN/SETUP-config.php HTTP/1.1" 200 1 "-" "-"',
    '45.1.2.3 - - [28/Nov/2026:11:00:05 +0800] "GET /login?user=ADM\u0130N HTTP/1.1" 200 1 "-" "-"',
    '45.1.2.3 - - [28/Nov/2026:11:00:06 +0800] "GET /login?user=%41DMIN HTTP/1.1" 200 1 "-" "-"',
    '45.1.2.3 - - [28/Nov/2026:11:00:07 +0800] "GET /up?f=%E4%B8%80%E5%8F%A5%E8%AF%9D%E6%9C%A8%E9%A9%AC HTTP/1.1" 200 1 "-" "-"',
    '45.1.2.3 - - [28/Nov/2026:11:00:08 +0800] "GET /up?f=\\xE4\\xB8\\x80\\xE5\\x8F\\xA5\\xE8\\xAF\\x9D\\xE6\\x9C\\xA8\\xE9\\xA9\\xAC HTTP/1.1" 200 1 "-" "-"',
    '45.1.2.3 - - [28/Nov/2026:11:00:09 +0800] "GET /pay?q=%C3%9Cberweisung HTTP/1.1" 200 1 "-" "-"',
    '45.1.2.3 - - [28/Nov/2026:11:00:10 +0800] "GET /pay?q=%C3%BCberweisung HTTP/1.1" 200 1 "-" "-"',
]


@pytest.mark.parametrize("decode", [False, True])
def test_prefiltered_and_unfiltered_evaluation_find_the_same_hits(rules_and_events: tuple[list, pl.DataFrame],
                                                                   decode: bool) -> None:
    rules, events = rules_and_events
    assert sum(r.terms is not None for r in rules) / len(rules) > 0.8
    fast = match(events, rules, decode=decode)
    slow = match(events, rules, decode=decode, prefilter=False)
    assert fast.height > 1000
    assert fast.equals(slow)


def test_evaluating_distinct_values_finds_the_same_hits(rules_and_events: tuple[list, pl.DataFrame],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules evaluated once per distinct value of the columns they read (as on large repetitive
    chunks) find exactly the rows that evaluating every row finds."""
    rules, events = rules_and_events
    events = pl.concat([events, events.head(5000)])  # repeated requests, as in real logs
    monkeypatch.setattr(engine, "DISTINCT_MIN_ROWS", 10**9)
    every_row = match(events, rules, prefilter=False)
    monkeypatch.setattr(engine, "DISTINCT_MIN_ROWS", 1)
    monkeypatch.setattr(engine, "DISTINCT_SHARE", 1.0)
    calls: list[int] = []
    original = engine.repeated_rows
    monkeypatch.setattr(engine, "repeated_rows", lambda keys, *a: (calls.append(keys.height), original(keys, *a))[1])
    distinct = match(events, rules, prefilter=False)
    assert calls and max(calls) == events.height
    assert every_row.height > 1000
    assert distinct.equals(every_row)


def test_the_tricky_lines_are_found_with_and_without_decoding(rules_and_events: tuple[list, pl.DataFrame]) -> None:
    rules, events = rules_and_events
    by_title = {r.title: i for i, r in enumerate(rules)}
    tricky = events.with_row_index(ROW).filter(pl.col("line_no") > events.height - len(TRICKY_LINES))
    rows = dict(zip(tricky["raw"].to_list(), tricky[ROW].to_list(), strict=True))

    line = {k: rows[TRICKY_LINES[k]] for k in range(len(TRICKY_LINES))}

    def found(decode: bool, title: str) -> list[int]:
        """The tricky lines a rule finds (the lines built from the rules find it too)."""
        hits = match(events, rules, decode=decode)
        return sorted(set(hits.filter(pl.col("rule") == by_title[title])[ROW].to_list()) & set(line.values()))

    assert found(False, "kelvin in a wildcard") == [line[0], line[1], line[2]]  # K and ſ fold to k and s
    assert found(False, "long s under regex folding") == [line[3], line[4]]
    assert found(False, "dotted capital I") == [line[5]]  # İ lowercases to i + combining dot
    assert found(True, "dotted capital I") == [line[5], line[6]]
    assert found(False, "Chinese literal") == [] and found(True, "Chinese literal") == [line[7], line[8]]
    assert found(True, "cased non-ASCII") == [line[9]]


def test_terms_of_rule_shapes() -> None:
    def terms(detection: str) -> set[Term] | None:
        [rule] = SigmaCollection.from_yaml(f"title: t\nlogsource: {{category: webserver}}\ndetection:\n{detection}").rules
        PolarsBackend(processing_pipeline=events_pipeline()).convert_rule(rule)
        found = necessary_terms(rule)
        return None if found is None else set(found)

    assert terms("  a:\n    cs-uri-query|contains: UNION SELECT\n  condition: a") == {
        Term("url_query", "union select", "ci")}
    # and: the strongest child; a method is never a useful term
    assert terms("  a:\n    cs-method: GET\n    cs-uri-stem|endswith: '/wp-login.php'\n  condition: a") == {
        Term("url_path", "/wp-login.php", "ci")}
    # or: every child must have terms
    assert terms("  a:\n    cs-uri-query|contains: [union, sleep(]\n  b:\n    sc-status: 500\n  condition: a or b") is None
    assert terms("  a:\n    cs-uri-query|contains: [union, sleep(]\n  condition: a") == {
        Term("url_query", "union", "ci"), Term("url_query", "sleep(", "ci")}
    # not, short literals: nothing
    assert terms("  a:\n    cs-uri-query|contains: union\n  condition: not a") is None
    # a regex: itself, run beforehand only where one of its literals or uncommon characters occurs
    assert terms("  a:\n    cs-uri-query|re: 'union\\s+(all\\s+)?select|sleep\\(\\d'\n  condition: a") == {
        Term("url_query", "union[[:space:]]+(all[[:space:]]+)?select|sleep\\([[:digit:]]", "regex",
             frozenset({"select", "sleep("}))}
    assert terms("  a:\n    cs-uri-query|re|i: '[\"\\x27]\\s*(or|and)\\s+\\d'\n  condition: a") == {
        Term("url_query", "(?i)[\"\\x27][[:space:]]*(or|and)[[:space:]]+[[:digit:]]", "regex", frozenset({'"', "'"}))}
    assert terms("  a:\n    cs-uri-query|re: '[[:alpha:]]union'\n  condition: a") == {  # read differently by Rust
        Term("url_query", "[[:alpha:]]union", "regex")}
    assert terms("  a:\n    cs-uri-query|contains: '..'\n  condition: a") is None
    # wildcards inside: the longest literal run; keywords: the raw line; cased and non-ASCII text
    assert terms("  a:\n    cs-uri-stem: '/cgi-bin/*.sh'\n  condition: a") == {Term("url_path", "/cgi-bin/", "ci")}
    assert terms("  keywords:\n    - 'eval(base64'\n  condition: keywords") == {Term("raw", "eval(base64", "ci")}
    assert terms("  a:\n    cs-uri-query|contains: '一句话木马'\n  condition: a") == {
        Term("url_query", "一句话木马", "lower")}
    assert terms("  a:\n    cs-uri-query|cased|contains: 'Über'\n  condition: a") == {
        Term("url_query", "Über", "exact")}
    assert terms("  a:\n    cs-uri-query: '*Über*x'\n  condition: a") is None  # regex folding is not lowercasing


def test_rules_whose_literals_suffice() -> None:
    def suffice(detection: str) -> bool:
        [rule] = SigmaCollection.from_yaml(f"title: t\nlogsource: {{category: webserver}}\ndetection:\n{detection}").rules
        PolarsBackend(processing_pipeline=events_pipeline()).convert_rule(rule)
        return terms_suffice(rule)

    assert suffice("  a:\n    cs-uri-query|contains: [union select, sleep(]\n  condition: a")
    assert suffice("  keywords:\n    - 'eval(base64'\n  b:\n    cs-user-agent|contains: sqlmap\n  condition: keywords or b")
    assert not suffice("  a:\n    cs-uri-query|contains: union\n    cs-method: GET\n  condition: a")  # and
    assert not suffice("  a:\n    cs-uri-stem|endswith: '/wp-login.php'\n  condition: a")  # not a contains
    assert not suffice("  a:\n    cs-uri-query|cased|contains: Union\n  condition: a")  # found folded, must be cased
    assert not suffice("  a:\n    cs-uri-query|contains: '*'\n  condition: a")  # no literal
    # a regular expression's term is the expression itself: where it was found, the rule matches
    assert suffice("  a:\n    cs-uri|re|i: \"['\\\"]\\\\s*or\\\\s+\\\\d\"\n  b:\n    cs-uri-query|contains: sleep(\n"
                   "  condition: a or b")
    assert not suffice("  a:\n    cs-uri|re: \"['\\\"]\\\\s*or\"\n  b:\n    sc-status: 200\n  condition: a and b")


def test_matchable_and_the_derived_url() -> None:
    frame = pl.DataFrame({"url_path": ["/a.PHP", "/b"], "url_query": ["x=1", None]})
    out = matchable(frame)
    assert out[ROW].to_list() == [0, 1]
    assert out["url"].to_list() == ["/a.PHP?x=1", "/b"] and out["url_extension"].to_list() == ["php", None]
    assert FOLDS_TO_ASCII == ("\u0130", "\u017f", "\u212a")


def test_the_derived_url_is_decoded_too(tmp_path: Path) -> None:
    (tmp_path / "url.yml").write_text("""
title: traversal in the URL
logsource: {category: proxy}
detection:
  sel:
    url|contains: '../etc/passwd'
  ext:
    url_extension: 'php'
  condition: sel or ext
""", encoding="utf-8")
    [rule] = compile_rules([tmp_path]).rules
    frame = pl.DataFrame({"url_path": ["/a/..%2fetc%2fpasswd", "/x.p%68p", "/b"], "url_query": [None, "q=1", None]})
    assert match(frame, [rule])[ROW].to_list() == [0, 1]
    assert match(frame, [rule], decode=False)[ROW].to_list() == []


def test_proxy_names_reach_the_derived_url_in_single_event_rules(tmp_path: Path) -> None:
    """SigmaHQ's proxy rules say `c-uri` and `c-uri-extension`: they compile onto the URL the engine
    derives and match as the derived names do, decoded, rather than failing as unknown fields."""
    (tmp_path / "proxy.yml").write_text("""
title: traversal in the URL, proxy names
logsource: {category: proxy}
detection:
  sel:
    c-uri|contains: '../etc/passwd'
  ext:
    c-uri-extension: 'php'
  condition: sel or ext
""", encoding="utf-8")
    compiled = compile_rules([tmp_path])
    assert compiled.failed == []
    [rule] = compiled.rules
    assert set(rule.columns) == {"url", "url_extension"}
    frame = pl.DataFrame({"url_path": ["/a/..%2fetc%2fpasswd", "/x.p%68p", "/b"], "url_query": [None, "q=1", None]})
    assert match(frame, [rule])[ROW].to_list() == [0, 1]


def test_regex_scan_finds_what_each_expression_finds_alone(rules_and_events: tuple[list, pl.DataFrame]) -> None:
    """Looking for the rules' expressions together (distinct values, gates, grouped expressions)
    gives, expression by expression, what searching every value with it alone gives."""
    rules, events = rules_and_events
    plan = Plan.of((i, r.terms) for i, r in enumerate(rules) if r.terms)
    column = "http_request"
    patterns = sorted(plan.literals[(column, "regex")])
    gates = {p: g for (c, p), g in plan.gates.items() if c == column}
    assert len(patterns) > 20 and 0 < len(gates) < len(patterns)  # both kinds, and groups of ungated ones
    assert any(not _groupable(p) for p in patterns) and any(_groupable(p) for p in patterns)
    values = decode_series(events[column], plus_is_space=True)
    for text in (values, pl.concat([values, values, values.head(3000)])):  # the second repeats: distinct values
        found = regex_scan(text, patterns, gates)
        for pattern in patterns:
            alone = text.str.contains(pattern).fill_null(False).to_numpy()
            assert (found[pattern] == alone).all(), pattern
        assert sum(int(hit.sum()) for hit in found.values()) > 500


def test_gates_of_regular_expressions() -> None:
    """The literals a regex is only run where one occurs: rare ones every match needs, never words
    that every request holds, none where the regex dialects could read a class differently."""
    assert regex_gate(r"""['"`’)]\s*(?:or|and)""") == {"'", '"', "`", "’", ")"}
    assert regex_gate(r"=-?\d+\)*\s*(?:--\s*|#|/\*)") == {"--", "#", "/*"}  # pairs of punctuation
    assert regex_gate(r"(?:\.|．){2,}[/\\]") == {"..", ".．", "．.", "．．"}  # two in a row
    assert regex_gate(r";\s*(?:select|drop)\s") == {";"}  # the rarest required set
    assert regex_gate(r"union\s+select") == {"select"}
    assert regex_gate(r"=\s*https?://") == {"://"}
    assert regex_gate(r"=\s*https?[:/]") is None  # `http` is in every request line
    assert regex_gate(r"(?:^|&)(?:id|sh)=") is None  # short words are everywhere
    assert regex_gate(r"[\s(]or\s") is None
    assert regex_gate(r"\[\s*['\"]x") == {"["}  # an escaped bracket before a class is no nested class
    assert regex_gate(r"[[:alpha:]]union") is None  # a POSIX class: Rust and Python read it differently


@pytest.mark.parametrize("bits", [64, 7])
def test_answers_remembered_from_earlier_chunks_find_the_same_hits(rules_and_events: tuple[list, pl.DataFrame],
                                                                   monkeypatch: pytest.MonkeyPatch, bits: int) -> None:
    """A night is matched chunk by chunk; what the prefilter remembers of one chunk's values
    (memo.py) answers the next chunk's repeats, and every chunk gets the hits it gets alone.

    The memo keeps each value's answers to a column's expressions as the bits of 64-bit words; with
    7 bits to a word, the request lines' expressions span ten words, as a rule set with more than
    64 expressions on one column would."""
    from secaware.detect import prefilter
    from secaware.detect.memo import MEMO

    monkeypatch.setattr(prefilter, "_BITS", bits)
    rules, events = rules_and_events
    night = events.sample(3 * events.height, with_replacement=True, seed=3)  # requests repeat, as in real logs
    chunks = [night.slice(start, events.height) for start in range(0, night.height, events.height)]
    MEMO.clear()
    searched: list[int] = []
    lookup = MEMO.lookup
    monkeypatch.setattr(MEMO, "lookup", lambda key, values, compute: lookup(
        key, values, lambda new: (searched.append(new.len()), compute(new))[1]))
    in_sequence = [match(chunk, rules) for chunk in chunks]
    assert searched and sum(searched) < 0.8 * sum(len(c) for c in chunks)  # repeats were not searched again
    for chunk, hits in zip(chunks, in_sequence, strict=True):
        MEMO.clear()
        assert hits.height > 1000
        assert hits.equals(match(chunk, rules))
        assert hits.equals(match(chunk, rules, prefilter=False))


def test_chunks_matched_side_by_side_get_their_own_hits_in_order(rules_and_events: tuple[list, pl.DataFrame]) -> None:
    """match_each matches two chunks at once (sharing the memo and the worker threads) and reads the
    next meanwhile: each chunk still gets exactly the hits it gets alone, in the order given, and no
    more chunks are read ahead than it holds."""
    from secaware.detect.memo import MEMO

    rules, events = rules_and_events
    night = events.sample(4 * events.height, with_replacement=True, seed=5)
    chunks = [night.slice(start, events.height) for start in range(0, night.height, events.height)]
    read: list[int] = []

    def reading() -> Iterator[pl.DataFrame]:
        for n, chunk in enumerate(chunks):
            read.append(n)
            yield chunk

    MEMO.clear()
    seen = []
    for n, (frame, hits) in enumerate(engine.match_each(reading(), rules, in_flight=2)):
        assert frame is chunks[n]
        assert len(read) <= n + 2  # the chunk given back and at most one more being matched
        seen.append(hits)
    assert len(seen) == len(chunks)
    for chunk, hits in zip(chunks, seen, strict=True):
        MEMO.clear()
        assert hits.height > 1000
        assert hits.equals(match(chunk, rules))


def test_an_error_in_a_chunk_reaches_the_caller(rules_and_events: tuple[list, pl.DataFrame],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rules, events = rules_and_events
    real = engine.match

    def failing(frame: pl.DataFrame, *args: object, **kwargs: object) -> pl.DataFrame:
        if frame.height == 7:
            raise ValueError("broken chunk")
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(engine, "match", failing)
    with pytest.raises(ValueError, match="broken chunk"):
        list(engine.match_each([events.head(100), events.head(7), events.head(50)], rules))
