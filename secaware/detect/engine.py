"""Running compiled rules over a frame of events: which rule matched which row.

Rules see the decoded text (decode.py), because that is what the application received. A rule
whose own values are written encoded (`%2e%2e%2f`) is also run on the text as logged, so rules
written either way, ours or SigmaHQ's, find what they describe.

Derived columns (the whole URL, its extension) are computed from the decoded path and query, so
they too show what the application received.

Three things keep this fast without changing what matches:

- only the columns the rules read are prepared and decoded;
- a rule is evaluated only on the rows where one of its necessary literals occurs (prefilter.py:
  one Aho-Corasick scan per column for all rules), except rules that have none;
- the second pass of encoded rules over the logged text covers only rows that decoding changed:
  elsewhere the logged text is the decoded text, and the first pass has already answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from secaware.detect.decode import DECODED_COLUMNS, decode_frame_changes
from secaware.detect.prefilter import Plan
from secaware.detect.rules import CompiledRule
from secaware.schema import EVENTS, conform

ROW = "__row"

#: Columns computed for matching only: proxy-taxonomy names want the URL and its extension.
DERIVED: dict[str, pl.Expr] = {
    "url": pl.when(pl.col("url_query").is_not_null())
    .then(pl.concat_str([pl.col("url_path"), pl.lit("?"), pl.col("url_query")]))
    .otherwise(pl.col("url_path")),
    "url_extension": pl.col("url_path").str.extract(r"\.([A-Za-z0-9]{1,10})$", 1).str.to_lowercase(),
}

HITS_SCHEMA = pl.Schema({ROW: pl.UInt32(), "rule": pl.UInt32()})

_EVENT_COLUMNS = list(conform(pl.DataFrame(), EVENTS).collect_schema())


def matchable(frame: pl.DataFrame) -> pl.DataFrame:
    """Events in the events table's shape, with a row index and the derived columns rules may use."""
    if frame.columns != _EVENT_COLUMNS:
        frame = conform(frame, EVENTS).collect()
    return frame.with_row_index(ROW).with_columns(**DERIVED)


def match(frame: pl.DataFrame, rules: Sequence[CompiledRule], *, decode: bool = True,
          prefilter: bool = True) -> pl.DataFrame:
    """(row, rule) for every rule that matches a row of frame; row indexes frame, rule indexes rules.

    With decode=False rules see exactly what was logged (for comparing with other engines). With
    prefilter=False every rule is evaluated on every row: the same hits, slower (for tests).
    """
    if not rules or frame.height == 0:
        return pl.DataFrame(schema=HITS_SCHEMA)
    logged = _matchable(frame, _columns(rules))
    everything = range(len(rules))
    if not decode:
        return _collect(_hits(logged, rules, everything, prefilter=prefilter))
    view, changed = decode_frame_changes(logged, DECODED_COLUMNS)
    derived = {name: expr for name, expr in DERIVED.items() if name in logged.columns}
    if derived and changed is not None:  # the URL and its extension as the application saw them
        view = view.with_columns(**derived)
    parts = _hits(view, rules, everything, prefilter=prefilter)
    encoded = [i for i, r in enumerate(rules) if r.encoded]
    if encoded and changed is not None:
        parts += _hits(logged.filter(changed), rules, encoded, prefilter=prefilter)
    return _collect(parts)


def _columns(rules: Sequence[CompiledRule]) -> set[str]:
    """The columns the rules' predicates read, and those the derived columns they read come from."""
    names: set[str] = set()
    for rule in rules:
        names.update(rule.predicate.meta.root_names())
    for name, expr in DERIVED.items():
        if name in names:
            names.update(expr.meta.root_names())
    return names


def _matchable(frame: pl.DataFrame, needed: set[str]) -> pl.DataFrame:
    """matchable(frame) with only the columns needed (and the row index)."""
    lf = frame.lazy() if frame.columns == _EVENT_COLUMNS else conform(frame, EVENTS)
    derived = {name: expr for name, expr in DERIVED.items() if name in needed}
    keep = [c for c in _EVENT_COLUMNS if c in needed] + list(derived)
    return lf.with_row_index(ROW).with_columns(**derived).select(ROW, *keep).collect()


def _hits(view: pl.DataFrame, rules: Sequence[CompiledRule], which: Iterable[int], *,
          prefilter: bool) -> list[pl.DataFrame]:
    which = list(which)
    narrowed = [i for i in which if rules[i].terms] if prefilter else []
    everywhere = sorted(set(which) - set(narrowed))
    parts = []
    if everywhere:
        parts.append(_evaluate(view, rules, everywhere))
    if narrowed:
        plan = Plan.of((i, rules[i].terms) for i in narrowed)  # type: ignore[misc]
        candidates = view.filter(plan.mask(view))
        if candidates.height:
            # each rule only on the rows where one of its own literals occurs; a rule whose
            # literals suffice matches where one was found, and is evaluated only where nothing
            # but a character folding to ASCII was
            pairs = plan.pairs(candidates)
            sufficing = [i for i in narrowed if rules[i].terms_suffice]
            sure = pairs.filter(~pl.col("folded") & pl.col("rule").is_in(sufficing))
            if sure.height:
                parts.append(pl.DataFrame({ROW: candidates[ROW].gather(sure["pos"]), "rule": sure["rule"]},
                                          schema=HITS_SCHEMA))
            rest = pairs.join(sure, on=["pos", "rule"], how="anti")
            for rule, positions in rest.group_by("rule").agg("pos").iter_rows():
                parts.append(_evaluate(candidates[positions], rules, [rule]))
    return parts


def _evaluate(view: pl.DataFrame, rules: Sequence[CompiledRule], which: Sequence[int]) -> pl.DataFrame:
    """(row, rule) of the rules `which` on every row of view.

    One rule at a time: measured, that takes half the CPU of one select of many large predicates
    (regular expressions over whole columns crowd each other out of the caches), and no query
    planning is paid for on the small candidate sets most rules see.
    """
    row_ids = view.get_column(ROW).to_numpy()
    rows, rule_ids = [], []
    for i in which:
        hit = view.select(rules[i].predicate.fill_null(False)).to_series().to_numpy()
        if hit.any():
            rows.append(row_ids[hit])
            rule_ids.append(np.full(int(hit.sum()), i, dtype=np.uint32))
    if not rows:
        return pl.DataFrame(schema=HITS_SCHEMA)
    return pl.DataFrame({ROW: np.concatenate(rows), "rule": np.concatenate(rule_ids)}, schema=HITS_SCHEMA)


def _collect(parts: list[pl.DataFrame]) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=HITS_SCHEMA)
    return pl.concat(parts).unique().sort([ROW, "rule"])
