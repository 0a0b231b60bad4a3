"""Running compiled rules over a frame of events: which rule matched which row.

Rules see the decoded text (decode.py), because that is what the application received. A rule
whose own values are written encoded (`%2e%2e%2f`) is also run on the text as logged, so rules
written either way, ours or SigmaHQ's, find what they describe.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from secaware.detect.decode import decode_frame
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


def matchable(frame: pl.DataFrame) -> pl.DataFrame:
    """Events in the events table's shape, with a row index and the derived columns rules may use."""
    if frame.columns != list(conform(pl.DataFrame(), EVENTS).collect_schema()):
        frame = conform(frame, EVENTS).collect()
    return frame.with_row_index(ROW).with_columns(**DERIVED)


def match(frame: pl.DataFrame, rules: Sequence[CompiledRule], *, decode: bool = True) -> pl.DataFrame:
    """(row, rule) for every rule that matches a row of frame; row indexes frame, rule indexes rules.

    With decode=False rules see exactly what was logged (for comparing with other engines).
    """
    if not rules or frame.height == 0:
        return pl.DataFrame(schema=HITS_SCHEMA)
    logged = matchable(frame)
    view = decode_frame(logged) if decode else logged
    parts = [_hits(view, rules, range(len(rules)))]
    if decode:
        encoded = [i for i, r in enumerate(rules) if r.encoded]
        if encoded:
            parts.append(_hits(logged, rules, encoded))
    return pl.concat(parts).unique().sort([ROW, "rule"])


def _hits(view: pl.DataFrame, rules: Sequence[CompiledRule], which: Sequence[int]) -> pl.DataFrame:
    flags = view.select([rules[i].predicate.alias(str(i)) for i in which])
    parts = []
    for i in which:
        rows = flags.get_column(str(i)).arg_true()
        if len(rows):
            parts.append(pl.DataFrame({ROW: rows.cast(pl.UInt32), "rule": pl.repeat(i, len(rows), dtype=pl.UInt32,
                                                                                    eager=True)}))
    return pl.concat(parts) if parts else pl.DataFrame(schema=HITS_SCHEMA)
