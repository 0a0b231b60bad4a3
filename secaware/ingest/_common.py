"""Expression helpers shared by the format parsers.

Parsers are pure Polars expressions over a frame of (raw, line_no, warning); these helpers keep
the small conventions (dash means empty, zone-less means configured zone) identical everywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from secaware.schema import UTC_TS

#: Columns every parser adds beside the event columns: why the line is not an event (null if it
#: is one) and whether it is a blank/comment line that is counted but not stored.
REJECT = "_reject"
SKIP = "_skip"


@dataclass
class FileContext:
    """What a parser may know about the file beyond its lines.

    `state` survives between chunks and between runs (it is saved with the checkpoint), for
    formats whose meaning depends on earlier lines: the IIS `#Fields:` header, the syslog year.
    """

    path: str
    format: str
    tz: str = "Asia/Shanghai"
    mtime: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    prefecture: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    #: The current chunk as UTF-8 bytes (lines joined by \n) when it decoded cleanly, for parsers
    #: that split natively with Polars' CSV reader; None when only the lines frame is reliable.
    chunk_text: bytes | None = None


def dash_null(expr: pl.Expr) -> pl.Expr:
    """'-' and '' mean 'not logged' in every access-log format."""
    return pl.when(expr.is_in(["-", ""])).then(None).otherwise(expr)


def to_int(expr: pl.Expr, dtype: pl.DataType | type[pl.DataType] = pl.Int64) -> pl.Expr:
    return expr.str.strip_chars().cast(dtype, strict=False)


def localize(naive: pl.Expr, tz: str) -> pl.Expr:
    """Read zone-less wall-clock times in tz and express them in UTC.

    An ambiguous hour at a DST change takes the earlier instant; a non-existent one is null, which
    the parser turns into a reject rather than a guess.
    """
    return naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")


def parse_offset_time(text: pl.Expr, fmt: str) -> pl.Expr:
    """Parse times that carry their own UTC offset (%z), straight to UTC."""
    return text.str.strptime(UTC_TS, fmt, strict=False)


def blank() -> pl.Expr:
    return pl.col("raw").str.strip_chars() == ""


def finish(frame: pl.LazyFrame, source: str | pl.Expr, reject: pl.Expr, *, skip: pl.Expr | None = None,
           warning: pl.Expr | None = None) -> pl.LazyFrame:
    """Add the bookkeeping columns: source, _reject reason, _skip, and the warnings of reader and parser."""
    skip = blank() if skip is None else skip
    warn = pl.col("warning") if warning is None else pl.concat_str(
        [pl.col("warning"), warning], separator="; ", ignore_nulls=True)
    return frame.with_columns(
        (pl.lit(source) if isinstance(source, str) else source).alias("source"),
        pl.when(skip).then(None).otherwise(reject).alias(REJECT),
        skip.alias(SKIP),
        pl.when(warn == "").then(None).otherwise(warn).alias("parse_warning"),
    )


#: Address columns, whatever the format.
ADDRESS_COLUMNS = ("src_ip", "dst_ip", "nat_src_ip", "nat_dst_ip")
