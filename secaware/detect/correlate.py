"""Sigma correlation rules (spec v2.1) over the events their base rules matched.

Windows slide: every matching event ends a window of `timespan` that reaches back from it, so a
burst of failures that straddles a minute or hour boundary is counted whole (fixed buckets would
split it in two halves that each stay under the threshold). Consecutive firing windows of one
group are one episode and one alert: its first and last time, the events in it and the peak value,
rather than one alert per event of a long brute force.
"""

from __future__ import annotations

import re

import polars as pl

from secaware.addresses import networks
from secaware.detect.rules import NETWORK_FIELDS, CompiledCorrelation

#: Columns carried from the first event that made a window fire onto the alert.
CARRY = ("event_id", "batch_id", "src_ip", "dst_ip", "host", "user", "prefecture", "source", "file", "line_no")
_ALL = "__all"

EPISODE_SCHEMA = pl.Schema({
    "group_key": pl.String(), "ts": pl.Datetime("us", "UTC"), "first_ts": pl.Datetime("us", "UTC"),
    "last_ts": pl.Datetime("us", "UTC"), "count": pl.Int64(), "value": pl.Float64(),
    "event_id": pl.Int64(), "batch_id": pl.Int64(), "src_ip": pl.String(), "dst_ip": pl.String(),
    "host": pl.String(), "user": pl.String(), "prefecture": pl.String(), "source": pl.String(),
    "file": pl.String(), "line_no": pl.Int64(),
})

_OPS = {
    "gte": lambda v, n: v >= n, "gt": lambda v, n: v > n, "lte": lambda v, n: v <= n,
    "lt": lambda v, n: v < n, "eq": lambda v, n: v == n, "neq": lambda v, n: v != n,
}


def correlation_input(corr: CompiledCorrelation) -> list[str]:
    """The event columns a correlation needs beyond the carried ones."""
    return sorted(set(correlation_columns(corr)) - set(CARRY))


def correlation_columns(corr: CompiledCorrelation) -> list[str]:
    """The event columns a correlation groups by and counts (carried ones included)."""
    return sorted({NETWORK_FIELDS.get(c, c) for c in _fields(corr)})


def _fields(corr: CompiledCorrelation) -> set[str]:
    """The fields a correlation groups by and counts: event columns and NETWORK_FIELDS."""
    cols = {c for c in corr.group_by if c not in corr.aliases}
    cols |= {c for mapping in corr.aliases.values() for c in mapping.values()}
    if corr.counted:
        cols.add(corr.counted)
    return cols


def correlate(tagged: pl.DataFrame, corr: CompiledCorrelation) -> pl.DataFrame:
    """Episodes where the correlation's condition holds, one row each (EPISODE_SCHEMA).

    tagged has one row per (event, base rule it matched): `rule` (index into the compilation's
    rules), `ts`, the carried columns and the columns correlation_input names.
    """
    rows = tagged.filter(pl.col("rule").is_in(corr.base))
    if rows.height == 0:
        return pl.DataFrame(schema=EPISODE_SCHEMA)
    rows = rows.with_columns(networks(rows.get_column(source)).alias(name)
                             for name, source in NETWORK_FIELDS.items() if name in _fields(corr))
    rows, keys = _keyed(rows, corr)
    if corr.type in ("temporal", "temporal_ordered"):
        fired = _temporal(rows, corr, keys)
    else:
        fired = _windowed(rows.unique(["event_id"], keep="first", maintain_order=True), corr, keys)
    return _episodes(rows, fired, corr, keys)


def _keyed(rows: pl.DataFrame, corr: CompiledCorrelation) -> tuple[pl.DataFrame, list[str]]:
    """Rows with one column per group-by name (aliases resolved per base rule), nulls dropped."""
    keys: list[str] = []
    exprs = []
    for i, name in enumerate(corr.group_by):
        key = f"__k{i}"
        keys.append(key)
        if name in corr.aliases:
            mapping = corr.aliases[name]
            expr = pl.lit(None, dtype=pl.String)
            for rule, column in mapping.items():
                expr = pl.when(pl.col("rule") == rule).then(pl.col(column).cast(pl.String)).otherwise(expr)
            exprs.append(expr.alias(key))
        else:
            exprs.append(pl.col(name).cast(pl.String).alias(key))
    if not keys:
        keys = [_ALL]
        exprs.append(pl.lit("").alias(_ALL))
    rows = _could_fire(rows.with_columns(exprs).drop_nulls(keys), corr, keys)
    parts = [pl.concat_str([pl.lit(("" if i == 0 else ", ") + f"{name}="), _escaped(pl.col(key))])
             for i, (name, key) in enumerate(zip(corr.group_by, keys, strict=False))]
    label = pl.concat_str(parts) if parts else pl.lit("*")
    order = pl.col("rule").replace_strict({b: i for i, b in enumerate(corr.base)}, default=0, return_dtype=pl.Int32)
    rows = rows.with_columns(label.alias("group_key"), order.alias("__order")).sort([*keys, "ts", "__order",
                                                                                     "event_id"])
    return rows, keys


def _escaped(value: pl.Expr) -> pl.Expr:
    """A group value in the group key: `\\` and `,` escaped, so that a value from a log (a user name
    an attacker chose, `x, src_net=10.1.1.1`) cannot add a group of its own (`group_parts`)."""
    return value.str.replace_all("\\", "\\\\", literal=True).str.replace_all(",", "\\,", literal=True)


def group_parts(group_key: str) -> list[tuple[str, str]]:
    """(field, value) of each group in a group key (`user=root, host=by-oa-01`), escapes undone."""
    pieces, current, i, text = [], "", 0, group_key or ""
    while i < len(text):
        if text[i] == "\\":  # an escape and what it escapes, kept whole until the split is done
            current += text[i: i + 2]
            i += 2
        elif text.startswith(", ", i):
            pieces.append(current)
            current, i = "", i + 2
        else:
            current += text[i]
            i += 1
    pieces.append(current)
    found = [piece.partition("=") for piece in pieces]
    return [(name, re.sub(r"\\(.)", r"\1", value, flags=re.S)) for name, sep, value in found if sep]


def _could_fire(rows: pl.DataFrame, corr: CompiledCorrelation, keys: list[str]) -> pl.DataFrame:
    """The rows of the groups where a window could reach an `at least` threshold; all rows otherwise.

    Sliding windows are computed per row, group by group: over a night's web requests (3.2M rows,
    tens of thousands of addresses) the flood rule took 6 s, for no group that fires. Cut time into
    buckets as long as the timespan: a window (t - timespan, t] lies within the bucket of t and the
    one before, so it holds at most the events of those two buckets (for value_count, at most the
    distinct values of one plus those of the other). A group none of whose pairs of neighbouring
    buckets reaches the threshold cannot fire, and is left out before the per-row windows; the
    groups kept are computed as before, so the alerts are the same.
    """
    if corr.type not in ("event_count", "value_count") or corr.op not in ("gte", "gt") or rows.height == 0:
        return rows
    amount = (pl.len() if corr.type == "event_count"
              else pl.col(corr.counted).cast(pl.String).drop_nulls().n_unique()).cast(pl.Float64).alias("__n")
    # first the whole night of each group, a looser bound but a cheaper grouping (most addresses
    # send a few requests: 353k addresses made 2.5M address-and-minute groups)
    total = rows.group_by(keys).agg(amount)
    rows = rows.join(total.filter(_OPS[corr.op](pl.col("__n"), corr.threshold)).select(keys), on=keys, how="semi")
    if rows.height == 0:
        return rows
    bucket = (pl.col("ts").dt.epoch("us") // (max(corr.timespan_s, 1) * 1_000_000)).alias("__bucket")
    per = rows.group_by([*keys, bucket]).agg(amount)
    before = per.with_columns(pl.col("__bucket") + 1).rename({"__n": "__before"})
    bound = per.join(before, on=[*keys, "__bucket"], how="left").select(
        *keys, (pl.col("__n") + pl.col("__before").fill_null(0.0)).alias("__bound"))
    possible = bound.filter(_OPS[corr.op](pl.col("__bound"), corr.threshold)).select(keys).unique()
    return rows.join(possible, on=keys, how="semi")


def _windowed(rows: pl.DataFrame, corr: CompiledCorrelation, keys: list[str]) -> pl.DataFrame:
    """Rows whose window (ts - timespan, ts] satisfies a counting condition, with the window's value."""
    window = f"{corr.timespan_s}s"
    if corr.type == "event_count":
        value = pl.col("ts").is_not_null().cast(pl.Float64).rolling_sum_by("ts", window).over(keys)
    elif corr.type == "value_sum":
        value = pl.col(corr.counted).cast(pl.Float64, strict=False).rolling_sum_by("ts", window).over(keys)
    elif corr.type == "value_avg":
        value = pl.col(corr.counted).cast(pl.Float64, strict=False).rolling_mean_by("ts", window).over(keys)
    else:  # value_count: distinct values in the window
        counted = (rows.with_columns(pl.col(corr.counted).cast(pl.String).alias("__v"))
                   .rolling(index_column="ts", period=window, group_by=keys)
                   .agg(pl.col("__v").drop_nulls().n_unique().cast(pl.Float64).alias("__value"))
                   # one row per input row, in input order within each group but groups in any order
                   .sort([*keys, "ts"], maintain_order=True))
        rows = rows.with_columns(counted["__value"])
        value = pl.col("__value")
    start = pl.col("ts").rolling_min_by("ts", window).over(keys)
    scored = rows.with_columns(value.alias("__value"), start.alias("__start"))
    return scored.filter(_OPS[corr.op](pl.col("__value"), corr.threshold))


def _temporal(rows: pl.DataFrame, corr: CompiledCorrelation, keys: list[str]) -> pl.DataFrame:
    """Rows at which every base rule has matched within timespan (in the rules' order if ordered)."""
    span = pl.duration(seconds=corr.timespan_s)
    n = len(corr.base)
    if corr.type == "temporal":
        lasts = [pl.when(pl.col("__order") == i).then(pl.col("ts")).forward_fill().over(keys).alias(f"__l{i}")
                 for i in range(n)]
        scored = rows.with_columns(lasts).with_columns(
            pl.min_horizontal([f"__l{i}" for i in range(n)]).alias("__start"))
        complete = pl.all_horizontal([pl.col(f"__l{i}").is_not_null() for i in range(n)])
    else:
        # __c{i}: start time of the latest chain base[0] < ... < base[i] ending at or before this row.
        scored = rows.with_columns(pl.when(pl.col("__order") == 0).then(pl.col("ts")).forward_fill().over(keys)
                                   .alias("__c0"))
        for i in range(1, n):
            before = pl.col(f"__c{i - 1}").shift(1).over(keys)
            scored = scored.with_columns(pl.when(pl.col("__order") == i).then(before).forward_fill().over(keys)
                                         .alias(f"__c{i}"))
        last = n - 1
        start = pl.col(f"__c{last - 1}").shift(1).over(keys) if n > 1 else pl.col("ts")
        scored = scored.with_columns(pl.when(pl.col("__order") == last).then(start).alias("__start"))
        complete = pl.col("__start").is_not_null()
    fired = scored.filter(complete & (pl.col("ts") - pl.col("__start") <= span))
    return fired.with_columns(pl.lit(float(n)).alias("__value"))


def _episodes(rows: pl.DataFrame, fired: pl.DataFrame, corr: CompiledCorrelation, keys: list[str]) -> pl.DataFrame:
    """Firing rows of a group within timespan of each other merged into one episode each."""
    if fired.height == 0:
        return pl.DataFrame(schema=EPISODE_SCHEMA)
    span = pl.duration(seconds=corr.timespan_s)
    fired = fired.sort([*keys, "ts"]).with_columns(
        ((pl.col("ts") - pl.col("ts").shift(1).over(keys)) > span).fill_null(True).cum_sum().alias("__episode"))
    carry = [c for c in CARRY if c in fired.columns]
    episodes = fired.group_by([*keys, "__episode"], maintain_order=True).agg(
        pl.col("group_key").first(),
        pl.col("ts").first(),
        pl.col("__start").min().alias("first_ts"),
        pl.col("ts").max().alias("last_ts"),
        pl.col("__value").max().alias("value"),
        *[pl.col(c).first() for c in carry],
    )
    # events in the episode: every matching event of the group between its first and last time
    counts = (episodes.select([*keys, "__episode", "first_ts", "last_ts"])
              .join(rows.unique(["event_id"]).select([*keys, pl.col("ts").alias("__t")]), on=keys)
              .filter(pl.col("__t").is_between(pl.col("first_ts"), pl.col("last_ts")))
              .group_by([*keys, "__episode"]).agg(pl.len().cast(pl.Int64).alias("count")))
    out = episodes.join(counts, on=[*keys, "__episode"], how="left", maintain_order="left")
    return out.with_columns(pl.col("count").fill_null(0)).select(
        [pl.col(c) if c in out.columns else pl.lit(None, dtype=dt).alias(c) for c, dt in EPISODE_SCHEMA.items()]
    ).cast(dict(EPISODE_SCHEMA))  # type: ignore[arg-type]


def as_events(episodes: pl.DataFrame, rule: int) -> pl.DataFrame:
    """A correlation's episodes as tagged rows of a correlation built on it (rule: its index there).

    An episode counts as one event at its last time: "a login after a brute force" means after the
    brute force was last seen, however long it went on before.
    """
    carried = [c for c in CARRY if c in episodes.columns]
    return episodes.select(pl.col("last_ts").alias("ts"), *carried).with_columns(
        pl.lit(rule, dtype=pl.UInt32).alias("rule"))
