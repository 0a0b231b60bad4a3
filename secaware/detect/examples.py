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

A correlation rule's examples are blocks of several lines (YAML `|`): each block is parsed, its
lines are matched by the correlation's base rules (and by the correlations it builds on), and the
block passes when `correlate.correlate` finds an episode for a `match` block and none for a
`nomatch` block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from secaware.detect.backend import IPV4_NUMBERS
from secaware.detect.correlate import CARRY, as_events, correlate, correlation_input
from secaware.detect.decode import decode_frame
from secaware.detect.engine import ROW, match, matchable
from secaware.detect.rules import Compilation, CompiledRule
from secaware.ingest._common import REJECT, SKIP, FileContext
from secaware.ingest.formats import FORMATS, resolve
from secaware.ingest.reader import LINES_SCHEMA
from secaware.schema import EVENTS, conform

MATCH = "match"
NOMATCH = "nomatch"


class _Rule(Protocol):
    rule_id: str
    title: str
    file: str | None
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ExampleResult:
    """One example (a line, or a block of lines for a correlation) of one rule: did the rule do what it says."""

    rule_id: str
    title: str
    file: str | None
    expected: str  # 'match' or 'nomatch'
    text: str
    passed: bool
    reason: str  # empty when passed; otherwise what is wrong and what to fix


def run_examples(compilation: Compilation) -> list[ExampleResult]:
    """Run the examples of every rule and correlation of a compilation; one result per example.

    A rule without examples, with an unknown format, or with a line its format's parser rejects
    gives a failed result whose reason says what to fix.
    """
    results: list[ExampleResult] = []
    for rule in compilation.rules:
        results.extend(_run_rule(rule))
    for j in range(len(compilation.correlations)):
        results.extend(_run_correlation(compilation, j))
    return results


def _result(rule: _Rule, expected: str, text: str, reason: str = "") -> ExampleResult:
    return ExampleResult(rule.rule_id, rule.title, rule.file, expected, text, not reason, reason)


def _spec(rule: _Rule) -> tuple[str, list[str], list[tuple[str, str]]] | list[ExampleResult]:
    """(format, header lines, [(expected, text)]) of a rule's examples, or the failures that say what to fix."""
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
    return problems or (fmt.name, header, cases)


def _lines(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return [v.rstrip("\r\n") for v in value]


def _parse(fmt: str, lines: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame({"raw": lines, "line_no": range(1, len(lines) + 1), "warning": [None] * len(lines)},
                         schema=LINES_SCHEMA)
    context = FileContext(path="<rule examples>", format=fmt)
    context.chunk_text = "\n".join(lines).encode()
    return FORMATS[fmt].parse(frame, context)


def _events(fmt: str, header: list[str], lines: list[str]) -> pl.DataFrame | str:
    """The events of example lines parsed after the header (event_id = line number), or why they are not events."""
    try:
        parsed = _parse(fmt, [*header, *lines])
    except Exception as exc:  # a parser bug must not hide the other examples
        return f"the {fmt} parser failed on this example: {type(exc).__name__}: {exc}".replace("\n", " ")
    rows = parsed.filter(pl.col("line_no") > len(header))
    if rows.height != len(lines):
        return f"the {fmt} parser gave {rows.height} events for {len(lines)} lines"
    for reject, skip, line_no in rows.select(REJECT, SKIP, "line_no").iter_rows():
        where = "this line" if len(lines) == 1 else f"line {line_no - len(header)} of the block"
        if reject is not None:
            return f"the {fmt} parser rejects {where} ({reject}): write it as the {fmt} format logs it"
        if skip:
            return f"the {fmt} parser skips {where} (blank or comment)"
    events = conform(rows.drop(REJECT, SKIP), EVENTS).collect()
    return events.with_columns((pl.col("line_no") - len(header)).alias("event_id"))


# -- single-event rules ------------------------------------------------------------------------


def _run_rule(rule: CompiledRule) -> list[ExampleResult]:
    spec = _spec(rule)
    if isinstance(spec, list):
        return spec
    fmt, header, cases = spec
    out: dict[int, ExampleResult] = {}  # by position in cases, to report in the rule's order
    runnable: list[tuple[int, int, str, str]] = []  # (case, row in events, expected, text)
    frames: list[pl.DataFrame] = []
    for case, (expected, text) in enumerate(cases):
        if "\n" in text or "\r" in text:
            out[case] = _result(rule, expected, text, "a single-event example is one log line; "
                                                      "several lines belong to correlation rules")
            continue
        events = _events(fmt, header, [text])
        if isinstance(events, str):
            out[case] = _result(rule, expected, text, events)
        else:
            runnable.append((case, len(frames), expected, text))
            frames.append(events)
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


def _decoded_fields(events: pl.DataFrame, rule: CompiledRule) -> list[str]:
    """What the rule's fields hold for each event after decoding, to say why an example failed."""
    view = decode_frame(matchable(events))
    sources = {number: column for column, number in IPV4_NUMBERS.items()}  # the address, not its number
    names = [n for n in dict.fromkeys(sources.get(n, n) for n in rule.predicate.meta.root_names()) if n in view.columns]
    rows = view.select(names).to_dicts()
    return [", ".join(f"{k}={v!r}" for k, v in row.items()) or "(no fields)" for row in rows]


# -- correlation rules -------------------------------------------------------------------------


def _run_correlation(comp: Compilation, j: int) -> list[ExampleResult]:
    corr = comp.correlations[j]
    spec = _spec(corr)
    if isinstance(spec, list):
        return spec
    fmt, header, cases = spec
    chain = _chain(comp, j)
    base = sorted({i for k in chain for i in comp.correlations[k].base if i < len(comp.rules)})
    out = []
    for expected, text in cases:
        lines = [x for x in text.splitlines() if x.strip()]
        events = _events(fmt, header, lines)
        if isinstance(events, str):
            out.append(_result(corr, expected, text, events))
            continue
        hits = match(events, [comp.rules[i] for i in base]).with_columns(
            pl.col("rule").replace_strict(dict(enumerate(base)), return_dtype=pl.UInt32))
        needed = {"rule", "ts", "batch_id", *CARRY}
        needed |= {c for k in chain for c in correlation_input(comp.correlations[k])}
        rows = events.with_row_index(ROW).join(hits, on=ROW)
        tagged = rows.select([c for c in rows.columns if c in needed])
        episodes = None
        for k in chain:
            episodes = correlate(tagged, comp.correlations[k])
            if k != j:  # its episodes are events of the correlations built on it
                tagged = pl.concat([tagged, as_events(episodes, len(comp.rules) + k)], how="diagonal_relaxed")
        assert episodes is not None
        fired = episodes.height > 0
        if fired == (expected == MATCH):
            out.append(_result(corr, expected, text))
        elif fired:
            first = episodes.row(0, named=True)
            out.append(_result(corr, expected, text, f"expected nomatch, but the correlation fired for "
                                                     f"{first['group_key']} (value {first['value']:g})"))
        else:
            out.append(_result(corr, expected, text, f"expected match, but the correlation did not fire; "
                                                     f"{hits[ROW].n_unique()} of {len(lines)} lines matched its "
                                                     f"base rules"))
    return out


def _chain(comp: Compilation, j: int) -> list[int]:
    """Correlation j and the correlations it builds on, in the compilation's (dependency) order."""
    need = {j}
    for k in range(j, -1, -1):
        if k in need:
            need |= {i - len(comp.rules) for i in comp.correlations[k].base if i >= len(comp.rules)}
    return sorted(need)


__all__ = ["ExampleResult", "run_examples"]
