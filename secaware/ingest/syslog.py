"""Syslog files: RFC 3164, RFC 5424, RFC 3339 (rsyslog) and the device header styles seen on
Chinese firewalls, with the message handed to the parser of the program or device that wrote it.

A syslog file mixes sources (sshd, kernel firewall lines, a vendor's session log), so the file
format is `syslog` and each line's `source` names what was recognised in its message; lines from
other programs stay as generic `syslog` events with their message. RFC 3164 has no year: it is
inferred from the file's modification time and rolled forward at New Year (see `_with_year`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl

from secaware.ingest._common import FileContext, finish, localize, parse_offset_time, to_int
from secaware.schema import UTC_TS

_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_NUMERIC = r"\d{4}[-/]\d{2}[-/]\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?"
_BSD = r"[A-Z][a-z]{2} +\d{1,2} (?:\d{4} )?\d{2}:\d{2}:\d{2}(?:\.\d+)?(?: \d{4})?"
HEADER_RE = (
    r"^(?:<(\d{1,3})>\s?)?(?:(1) )?(" + _ISO + "|" + _NUMERIC + "|" + _BSD + r")\s+(\S+)(?:\s(.*))?$"
)
_HEADER_SNIFF = re.compile(HEADER_RE)
_TAG_RE = r"^([^\s\[\]:]{1,64}?)(?:\[(\d+)\])?:\s?(.*)$"
_RFC5424_REST_RE = r"^(\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)$"
_MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}


@dataclass(frozen=True)
class MessageFormat:
    """A source carried inside syslog: how to recognise its lines and how to read their message."""

    name: str
    description: str
    match: Callable[[], pl.Expr]
    parse: Callable[[pl.LazyFrame], pl.LazyFrame]


def sniff(lines: list[str]) -> float:
    return sum(bool(_HEADER_SNIFF.match(x)) for x in lines) / max(len(lines), 1)


def _header(raw: pl.Expr) -> list[pl.Expr]:
    g = raw.str.extract_groups(HEADER_RE)
    return [
        to_int(g.struct.field("1"), pl.Int16).alias("_pri"),
        g.struct.field("2").alias("_v"),
        g.struct.field("3").str.replace_all(" +", " ").alias("_ts"),
        g.struct.field("4").alias("host"),
        g.struct.field("5").fill_null("").alias("_rest"),
    ]


def _tag(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Split `program[pid]: message`, or the RFC 5424 APP-NAME PROCID MSGID SD MSG fields."""
    tag = pl.col("_rest").str.extract_groups(_TAG_RE)
    r5424 = pl.col("_rest").str.extract_groups(_RFC5424_REST_RE)
    is5424 = pl.col("_v").is_not_null()
    nil = lambda e: pl.when(e == "-").then(None).otherwise(e)  # noqa: E731
    return lf.with_columns(
        pl.when(is5424).then(nil(pl.col("host"))).otherwise(pl.col("host")).alias("host"),
        pl.when(is5424).then(nil(r5424.struct.field("1"))).otherwise(tag.struct.field("1")).alias("program"),
        to_int(pl.when(is5424).then(r5424.struct.field("2")).otherwise(tag.struct.field("2"))).alias("pid"),
        pl.when(is5424).then(r5424.struct.field("5").str.strip_prefix("\ufeff"))
        .otherwise(pl.coalesce(tag.struct.field("3"), pl.col("_rest"))).alias("message"),
    )


def _with_year(df: pl.DataFrame, ctx: FileContext) -> pl.DataFrame:
    """Give year-less (RFC 3164) times a year.

    The first such line of a file takes the latest year that does not put it after the file's
    modification time; later lines add a year when the month falls back by more than six (Dec ->
    Jan) and take one away when it jumps forward by more than six (a late Dec line after Jan),
    so out-of-order lines around New Year keep their own year. The running (year, month) is kept
    in ctx.state, so the next chunk or the next run goes on from it.
    """
    yearless = pl.col("_ts").str.contains(r"^[A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?$")
    df = df.with_columns(
        pl.when(yearless).then(pl.col("_ts").str.slice(0, 3).replace_strict(_MONTHS, default=None,
                                                                             return_dtype=pl.Int32))
        .alias("_month"),
    )
    months = df.filter(pl.col("_month").is_not_null()).select("_month", "_ts")
    if months.height == 0:
        return df.with_columns(pl.lit(None, dtype=pl.Int32).alias("_year"))
    state = ctx.state
    if "year" in state:
        year0, prev0 = int(state["year"]), int(state["month"])
    else:
        local = ctx.mtime.astimezone(ZoneInfo(ctx.tz))
        first_day = int(months["_ts"][0].split(" ")[1])
        first = (int(months["_month"][0]), first_day)
        year0 = local.year if first <= (local.month, local.day) else local.year - 1
        prev0 = first[0]
    month = pl.col("_month")
    prev = month.shift(1).fill_null(prev0)
    step = pl.when(month < prev - 6).then(1).when(month > prev + 6).then(-1).otherwise(0)
    years = months.select((year0 + step.cum_sum()).cast(pl.Int32).alias("_year"), month)
    state["year"], state["month"] = int(years["_year"][-1]), int(years["_month"][-1])
    idx = pl.arange(0, df.height, eager=True).filter(df["_month"].is_not_null())
    column = pl.Series("_year", [None] * df.height, dtype=pl.Int32).scatter(idx, years["_year"])
    return df.with_columns(column)


def _timestamp(tz: str) -> pl.Expr:
    ts = pl.col("_ts")
    naive = pl.coalesce(
        ts.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%Y/%m/%d %H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%b %d %Y %H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%b %d %H:%M:%S%.f %Y", strict=False),
        (pl.col("_year").cast(pl.String) + " " + ts).str.strptime(pl.Datetime("us"), "%Y %b %d %H:%M:%S%.f",
                                                                  strict=False),
    )
    return pl.coalesce(parse_offset_time(ts, "%Y-%m-%dT%H:%M:%S%.f%#z"), localize(naive, tz)).cast(UTC_TS)


def message_formats() -> list[MessageFormat]:
    """Every source recognised inside syslog lines, in the order they are tried."""
    from secaware.ingest import auth, h3c, hillstone, huawei_usg, iptables, sangfor

    return [*auth.FORMATS, *iptables.FORMATS, *huawei_usg.FORMATS, *h3c.FORMATS, *hillstone.FORMATS, *sangfor.FORMATS]


def parse(lines: pl.DataFrame, ctx: FileContext) -> pl.DataFrame:
    """Parse syslog lines; each recognised message format adds its own fields."""
    formats = message_formats()
    forced = next((f for f in formats if f.name == ctx.format), None)
    head = lines.lazy().with_columns(_header(pl.col("raw"))).pipe(_tag).collect()
    head = _with_year(head, ctx)
    kind: pl.Expr = pl.lit(None, dtype=pl.String)
    for fmt in reversed(formats):
        kind = pl.when(fmt.match()).then(pl.lit(fmt.name)).otherwise(kind)
    head = head.with_columns(
        _timestamp(ctx.tz).alias("ts"),
        (pl.col("_pri") // 8).cast(pl.Int8).alias("syslog_facility"),
        (pl.col("_pri") % 8).cast(pl.Int8).alias("syslog_severity"),
        kind.alias("_kind"),
    )
    parts = [head.filter(pl.col("_kind").is_null()).lazy()]
    for fmt in formats:
        part = head.filter(pl.col("_kind") == fmt.name)
        if part.height:
            parts.append(fmt.parse(part.lazy()))
    merged = pl.concat(parts, how="diagonal_relaxed")
    source = pl.coalesce(pl.col("_kind"), pl.lit("syslog"))
    reject = (
        pl.when(pl.col("_ts").is_null()).then(pl.lit("not a syslog line"))
        .when(pl.col("ts").is_null()).then(pl.lit("unreadable time: ") + pl.col("_ts"))
    )
    if forced is not None:
        reject = pl.when(pl.col("_kind").fill_null("") != forced.name).then(
            pl.lit(f"not a {forced.name} line")).otherwise(reject)
    out = finish(merged, source, reject).drop("_pri", "_v", "_ts", "_rest", "_month", "_year", "_kind")
    return out.collect().sort("line_no")
