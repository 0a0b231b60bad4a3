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
from secaware.ingest._netfw import add_warning
from secaware.schema import UTC_TS

_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_NUMERIC = r"\d{4}[-/]\d{2}[-/]\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?"
_BSD = r"[A-Z][a-z]{2} +\d{1,2} (?:\d{4} )?\d{2}:\d{2}:\d{2}(?:\.\d+)?(?: \d{4})?"
HEADER_RE = (
    r"^(?:<(\d{1,3})>\s?)?(?:(1) )?(" + _ISO + "|" + _NUMERIC + "|" + _BSD + r")\s+(\S+)(?:\s(.*))?$"
)
_HEADER_SNIFF = re.compile(HEADER_RE)
# Huawei and H3C devices can be set to send no time at all: `<pri>HOST %%01MODULE/sev/MNEMONIC...`;
# their session messages carry times of their own (see BODY_TS).
DEVICE_NO_TIME_RE = r"^(?:<(\d{1,3})>\s?)?(\S+) (%%\d\d\S.*)$"
_DEVICE_SNIFF = re.compile(DEVICE_NO_TIME_RE)
#: Columns a message format may set with a time read from the message body, used when the
#: header has none: BODY_TS in UTC, BODY_LOCAL_TS as wall-clock time in the file's zone.
BODY_TS = "_body_ts"
BODY_LOCAL_TS = "_body_local_ts"
# program[pid]: message; sysklogd writes "syslogd 1.4.1:" (a version after the name) and some
# daemons a "-- " before the tag.
_TAG_RE = r"^\s*(?:-- )?([^\s\[\]:]{1,64}?(?: [\d.]+)?)(?:\[(\d+)\])?:\s?(.*)$"
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
    #: Lines laid out like this format but from a program that never writes it (an application that
    #: logged what a user typed): kept as plain syslog with a warning naming the program, unless the
    #: collector is configured as this format.
    impostor: Callable[[], pl.Expr] | None = None
    #: The warning such a line gets, `{}` standing for its program.
    impostor_warning: str = ""


def sniff(lines: list[str]) -> float:
    return sum(bool(_HEADER_SNIFF.match(x) or _DEVICE_SNIFF.match(x)) for x in lines) / max(len(lines), 1)


_ISO_LINE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ "
_BSD_LINE = r"^[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d \S+ "


def _header(df: pl.DataFrame) -> pl.DataFrame:
    """Split the header into _pri, _v, _ts, host and _rest.

    The two styles rsyslog writes (RFC 3339 and RFC 3164 without <PRI>) are cut with plain splits;
    the regex that knows every style runs only on the other lines.
    """
    raw = pl.col("raw")
    style = pl.when(raw.str.contains(_ISO_LINE)).then(1).when(raw.str.contains(_BSD_LINE)).then(2).otherwise(0)
    df = df.with_columns(style.alias("_style"))
    parts = []
    iso = df.filter(pl.col("_style") == 1)
    if iso.height:
        sp = raw.str.splitn(" ", 3)
        parts.append(iso.with_columns(sp.alias("_sp")).select(
            *df.columns, pl.lit(None, dtype=pl.Int16).alias("_pri"), pl.lit(None, dtype=pl.String).alias("_v"),
            pl.col("_sp").struct.field("field_0").alias("_ts"), pl.col("_sp").struct.field("field_1").alias("host"),
            pl.col("_sp").struct.field("field_2").fill_null("").alias("_rest")))
    bsd = df.filter(pl.col("_style") == 2)
    if bsd.height:
        sp = raw.str.slice(16).str.splitn(" ", 2)
        parts.append(bsd.with_columns(sp.alias("_sp")).select(
            *df.columns, pl.lit(None, dtype=pl.Int16).alias("_pri"), pl.lit(None, dtype=pl.String).alias("_v"),
            raw.str.slice(0, 15).str.replace("  ", " ", literal=True).alias("_ts"),
            pl.col("_sp").struct.field("field_0").alias("host"),
            pl.col("_sp").struct.field("field_1").fill_null("").alias("_rest")))
    other = df.filter(pl.col("_style") == 0)
    if other.height:
        g = raw.str.extract_groups(HEADER_RE)
        d = raw.str.extract_groups(DEVICE_NO_TIME_RE)
        timed = g.struct.field("3").is_not_null()
        parts.append(other.select(
            *df.columns,
            to_int(pl.when(timed).then(g.struct.field("1")).otherwise(d.struct.field("1")), pl.Int16).alias("_pri"),
            g.struct.field("2").alias("_v"),
            g.struct.field("3").str.replace_all(" +", " ").alias("_ts"),
            pl.when(timed).then(g.struct.field("4")).otherwise(d.struct.field("2")).alias("host"),
            pl.when(timed).then(g.struct.field("5")).otherwise(d.struct.field("3")).fill_null("").alias("_rest"),
            (~timed & d.struct.field("2").is_not_null()).alias("_untimed"),
        ))
    out = pl.concat(parts, how="diagonal") if len(parts) > 1 else parts[0]
    return out.sort("line_no") if len(parts) > 1 else out


_FAST_TAG = r"^[^\s\[\]:]{1,64}(?:\[\d+\])?$"


def _tag(df: pl.DataFrame) -> pl.DataFrame:
    """Split `program[pid]: message`, or the RFC 5424 APP-NAME PROCID MSGID SD MSG fields.

    Most lines take a split on ': ' checked by a short regex on the tag alone; the full regexes
    run only on the rest (RFC 5424 lines, tags with a version or a leading '--', no tag).
    """
    nil = lambda e: pl.when(e == "-").then(None).otherwise(e)  # noqa: E731
    is5424 = pl.col("_v").is_not_null()
    split = pl.col("_rest").str.splitn(": ", 2)
    df = df.with_columns(split.struct.field("field_0").alias("_tag"), split.struct.field("field_1").alias("message"))
    fast_ok = ~is5424 & pl.col("_tag").str.contains(_FAST_TAG).fill_null(False) & pl.col("message").is_not_null()
    df = df.with_columns(fast_ok.alias("_fast"))
    fast = df.filter(pl.col("_fast")).with_columns(
        pl.col("_tag").str.splitn("[", 2).alias("_pp"),
    ).with_columns(
        pl.col("_pp").struct.field("field_0").alias("program"),
        to_int(pl.col("_pp").struct.field("field_1").str.strip_suffix("]")).alias("pid"),
    ).drop("_pp")
    rest = df.filter(~pl.col("_fast"))
    if rest.height:
        tag = pl.col("_rest").str.extract_groups(_TAG_RE)
        r5424 = pl.col("_rest").str.extract_groups(_RFC5424_REST_RE)
        rest = rest.with_columns(
            pl.when(is5424).then(nil(pl.col("host"))).otherwise(pl.col("host")).alias("host"),
            pl.when(is5424).then(nil(r5424.struct.field("1"))).otherwise(tag.struct.field("1")).alias("program"),
            to_int(pl.when(is5424).then(r5424.struct.field("2")).otherwise(tag.struct.field("2"))).alias("pid"),
            pl.when(is5424).then(r5424.struct.field("5").str.strip_prefix("\ufeff"))
            .otherwise(pl.coalesce(tag.struct.field("3"), pl.col("_rest"))).alias("message"),
        )
        fast = pl.concat([fast, rest.select(fast.columns)]).sort("line_no")
    return fast.drop("_tag", "_fast")


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


def _timestamp(style: int, tz: str) -> pl.Expr:
    """UTC time from _ts for lines of one header style (so most lines cost one or two parses)."""
    ts = pl.col("_ts")
    year_ts = (pl.col("_year").cast(pl.String) + " " + ts).str.strptime(pl.Datetime("us"), "%Y %b %d %H:%M:%S%.f",
                                                                          strict=False)
    other_naive = pl.coalesce(
        ts.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%Y/%m/%d %H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%b %d %Y %H:%M:%S%.f", strict=False),
        ts.str.strptime(pl.Datetime("us"), "%b %d %H:%M:%S%.f %Y", strict=False),
        year_ts,
    )
    with_offset = parse_offset_time(ts, "%Y-%m-%dT%H:%M:%S%.f%#z")
    if style == 2:
        return localize(year_ts, tz).cast(UTC_TS)
    if style == 1:
        return with_offset
    return pl.coalesce(with_offset, localize(other_naive, tz)).cast(UTC_TS)


def _iso_without_zone(df: pl.DataFrame, tz: str) -> pl.DataFrame:
    """RFC 3339 lines whose time has no offset (rare) are read in tz; parsed only where needed."""
    missing = df["ts"].is_null() & df["_ts"].is_not_null()
    if not missing.any():
        return df
    naive = df.filter(missing).select(
        localize(pl.col("_ts").str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False), tz)
        .cast(UTC_TS))
    idx = pl.arange(0, df.height, eager=True).filter(missing)
    return df.with_columns(df["ts"].scatter(idx, naive.to_series()))


def _with_timestamps(df: pl.DataFrame, tz: str) -> pl.DataFrame:
    styles = df["_style"].unique().to_list()
    if len(styles) == 1:
        out = df.with_columns(_timestamp(styles[0], tz).alias("ts"))
    else:
        parts = [df.filter(pl.col("_style") == k).with_columns(_timestamp(k, tz).alias("ts")) for k in styles]
        out = pl.concat(parts).sort("line_no")
    return _iso_without_zone(out, tz) if 1 in styles else out


def message_formats() -> list[MessageFormat]:
    """Every source recognised inside syslog lines, in the order they are tried."""
    from secaware.ingest import auth, h3c, hillstone, huawei_usg, iptables, sangfor

    return [*auth.FORMATS, *iptables.FORMATS, *huawei_usg.FORMATS, *h3c.FORMATS, *hillstone.FORMATS, *sangfor.FORMATS]


def parse(lines: pl.DataFrame, ctx: FileContext) -> pl.DataFrame:
    """Parse syslog lines; each recognised message format adds its own fields."""
    formats = message_formats()
    forced = next((f for f in formats if f.name == ctx.format), None)
    head = _with_timestamps(_with_year(_tag(_header(lines)), ctx), ctx.tz)
    kind: pl.Expr = pl.lit(None, dtype=pl.String)
    for fmt in reversed(formats):
        recognised = fmt.match()
        if fmt is forced and fmt.impostor is not None:  # the collector vouches for what the file holds
            recognised = recognised | fmt.impostor()
        kind = pl.when(recognised).then(pl.lit(fmt.name)).otherwise(kind)
    head = head.with_columns(
        (pl.col("_pri") // 8).cast(pl.Int8).alias("syslog_facility"),
        (pl.col("_pri") % 8).cast(pl.Int8).alias("syslog_severity"),
        kind.alias("_kind"),
    )
    for fmt in formats:
        if fmt.impostor is not None and fmt is not forced:
            said = pl.format(fmt.impostor_warning, pl.col("program").fill_null("?"))
            head = head.with_columns(add_warning(pl.col("_kind").is_null() & fmt.impostor().fill_null(False), said))
    parts = [head.filter(pl.col("_kind").is_null()).lazy()]
    for fmt in formats:
        part = head.filter(pl.col("_kind") == fmt.name)
        if part.height:
            parts.append(fmt.parse(part.lazy()))
    merged = pl.concat(parts, how="diagonal_relaxed")
    names = merged.collect_schema().names()
    for name, dtype in ((BODY_TS, UTC_TS), (BODY_LOCAL_TS, pl.Datetime("us")), ("_untimed", pl.Boolean())):
        if name not in names:
            merged = merged.with_columns(pl.lit(None, dtype=dtype).alias(name))
    merged = merged.with_columns(
        pl.coalesce("ts", BODY_TS, localize(pl.col(BODY_LOCAL_TS), ctx.tz).cast(UTC_TS)).alias("ts"))
    source = pl.coalesce(pl.col("_kind"), pl.lit("syslog"))
    untimed = pl.col("_untimed").fill_null(False)
    reject = (
        pl.when(pl.col("_ts").is_null() & ~untimed).then(pl.lit("not a syslog line"))
        .when(pl.col("ts").is_null() & untimed).then(pl.lit("no time in the header or the message"))
        .when(pl.col("ts").is_null()).then(pl.lit("unreadable time: ") + pl.col("_ts"))
    )
    if forced is not None:
        reject = pl.when(pl.col("_kind").fill_null("") != forced.name).then(
            pl.lit(f"not a {forced.name} line")).otherwise(reject)
    out = finish(merged, source, reject).drop("_pri", "_v", "_ts", "_rest", "_month", "_year", "_kind", "_style",
                                              "_untimed", BODY_TS, BODY_LOCAL_TS)
    return out.collect().sort("line_no")
