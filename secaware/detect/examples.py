"""Running the example log lines that each rule of the pack carries, so a rule proves what it finds.

Every rule in `rules/` has a custom `examples` attribute: the ingest format its lines are written
in, lines the rule must match and lines it must not match::

    examples:
      format: combined
      match:
        - '203.0.113.7 - - [23/Nov/2026:10:00:00 +0800] "GET /news.php?id=1%27%20union%20select%201,2-- HTTP/1.1" ...'
      nomatch:
        - '...'

Each line is parsed by that format's ingest parser and run through `engine.match`, exactly as a
real log line would be (decoding included), so an example that passes here is a line the analyzer
flags in production. Formats whose lines only make sense after a header (IIS `#Fields:`) take
optional `header` lines that are parsed before each example.

Correlation rules are not compiled yet (they are in `Compilation.failed`), so their examples,
which are blocks of several lines, are not run here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from secaware.detect.decode import decode_frame
from secaware.detect.engine import ROW, match, matchable
from secaware.detect.rules import Compilation, CompiledRule
from secaware.ingest._common import REJECT, SKIP, FileContext
from secaware.ingest.formats import FORMATS, resolve
from secaware.ingest.reader import LINES_SCHEMA

MATCH = "match"
NOMATCH = "nomatch"


@dataclass(frozen=True)
class ExampleResult:
    """One example line of one rule: whether the rule did what the example says."""

    rule_id: str
    title: str
    file: str | None
    expected: str  # 'match' or 'nomatch'
    text: str
    passed: bool
    reason: str  # empty when passed; otherwise what is wrong and what to fix


def run_examples(compilation: Compilation) -> list[ExampleResult]:
    """Run the examples of every compiled (single-event) rule; one result per example line.

    A rule without examples, with an unknown format, or with a line its format's parser rejects
    gives a failed result whose reason says what to fix.
    """
    results: list[ExampleResult] = []
    for rule in compilation.rules:
        results.extend(_run_rule(rule))
    return results


def _result(rule: CompiledRule, expected: str, text: str, reason: str = "") -> ExampleResult:
    return ExampleResult(rule.rule_id, rule.title, rule.file, expected, text, not reason, reason)


def _run_rule(rule: CompiledRule) -> list[ExampleResult]:
    spec = rule.attributes.get("examples")
    if not isinstance(spec, dict):
        return [_result(rule, MATCH, "", "the rule has no examples: add an `examples:` mapping with `format`, "
                                         "`match` and `nomatch` lists of log lines")]
    fmt_name = spec.get("format")
    fmt = resolve(fmt_name) if isinstance(fmt_name, str) else None
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        return [_result(rule, MATCH, "", f"examples.format {fmt_name!r} is not an ingest format; use one of {known}")]
    header = _lines(spec.get("header"))
    if header is None:
        return [_result(rule, MATCH, "", "examples.header must be a list of lines")]
    cases: list[tuple[str, str]] = []
    problems: list[ExampleResult] = []
    for expected in (MATCH, NOMATCH):
        texts = _lines(spec.get(expected))
        if texts is None:
            problems.append(_result(rule, expected, "", f"examples.{expected} must be a list of log lines"))
        elif not texts:
            problems.append(_result(rule, expected, "", f"the rule has no `{expected}` examples: add at least one "
                                                        f"log line it must {'' if expected == MATCH else 'not '}match"))
        cases.extend((expected, t) for t in texts or [])
    return problems + _check(rule, fmt.name, header, cases)


def _lines(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return [v.rstrip("\r\n") for v in value]


def _check(rule: CompiledRule, fmt: str, header: list[str], cases: list[tuple[str, str]]) -> list[ExampleResult]:
    """Parse every example (each after the header lines), match the rule once, and judge each line."""
    out: dict[int, ExampleResult] = {}  # by position in cases, to report in the rule's order
    runnable: list[tuple[int, int, str, str]] = []  # (case, row in events, expected, text)
    frames: list[pl.DataFrame] = []
    for case, (expected, text) in enumerate(cases):
        if "\n" in text or "\r" in text:
            out[case] = _result(rule, expected, text, "a single-event example is one log line; "
                                                      "several lines belong to correlation rules")
            continue
        try:
            parsed = _parse(fmt, [*header, text])
        except Exception as exc:  # a parser bug must not hide the other examples
            out[case] = _result(rule, expected, text, f"the {fmt} parser failed on this line: "
                                                      f"{type(exc).__name__}: {exc}".replace("\n", " "))
            continue
        row = parsed.filter(pl.col("line_no") == len(header) + 1)
        if row.height != 1:
            out[case] = _result(rule, expected, text, f"the {fmt} parser gave no event for this line")
        elif row[REJECT][0] is not None:
            out[case] = _result(rule, expected, text, f"the {fmt} parser rejects this line ({row[REJECT][0]}): "
                                                      f"write it as the {fmt} format logs it")
        elif row[SKIP][0]:
            out[case] = _result(rule, expected, text, f"the {fmt} parser skips this line (blank or comment)")
        else:
            runnable.append((case, len(frames), expected, text))
            frames.append(row.drop(REJECT, SKIP))
    if frames:
        events = pl.concat(frames, how="diagonal_relaxed")
        hit_rows = set(match(events, [rule])[ROW].to_list())
        view: list[str] | None = None
        for case, index, expected, text in runnable:
            if (index in hit_rows) == (expected == MATCH):
                out[case] = _result(rule, expected, text)
                continue
            if view is None:
                view = _decoded_fields(events, rule)
            verdict = "the rule does not match it" if expected == MATCH else "the rule matches it"
            out[case] = _result(rule, expected, text,
                                f"expected {expected}, but {verdict}; the rule sees {view[index]}")
    return [out[case] for case in sorted(out)]


def _parse(fmt: str, lines: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame({"raw": lines, "line_no": range(1, len(lines) + 1), "warning": [None] * len(lines)},
                         schema=LINES_SCHEMA)
    context = FileContext(path="<rule examples>", format=fmt)
    context.chunk_text = "\n".join(lines).encode()
    return FORMATS[fmt].parse(frame, context)


def _decoded_fields(events: pl.DataFrame, rule: CompiledRule) -> list[str]:
    """What the rule's fields hold for each event after decoding, to say why an example failed."""
    view = decode_frame(matchable(events))
    names = [n for n in dict.fromkeys(rule.predicate.meta.root_names()) if n in view.columns]
    rows = view.select(names).to_dicts()
    return [", ".join(f"{k}={v!r}" for k, v in row.items()) or "(no fields)" for row in rows]


__all__ = ["ExampleResult", "run_examples"]
