"""nginx and Apache access logs: `combined`, `common`, and combined with a trailing X-Forwarded-For.

Most lines take a fast path that splits on the quote character (native string splitting, no
regex); lines it cannot vouch for (Apache's \\" escapes, truncated fields, odd quote counts) go
through a regex that understands escapes, and only what that regex also refuses is rejected.
"""

from __future__ import annotations

import re

import polars as pl

from secaware.ingest._common import REJECT, FileContext, dash_null, finish, parse_offset_time, to_int

TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"

_Q = r'((?:[^"\\]|\\.)*)'
LINE_RE = (
    r"^(\S+) (\S+) (.+?) \[([^\]]*)\] " + f'"{_Q}" ' + r"(\d{3}|-) (\d+|-)"
    + f'(?: "{_Q}" "{_Q}(\"?)(?: "{_Q}")?)?' + r"\s*$"
)
_COMBINED_SNIFF = re.compile(r'^\S+ \S+ .+? \[[^\]]+\] "(?:[^"\\]|\\.)*" (?:\d{3}|-) (?:\d+|-) "')
_COMMON_SNIFF = re.compile(r'^\S+ \S+ .+? \[[^\]]+\] "(?:[^"\\]|\\.)*" (?:\d{3}|-) (?:\d+|-)\s*$')

_FIELDS = ("src_ip", "ident", "user", "time", "http_request", "status", "size", "referer", "user_agent",
           "ua_close", "forwarded_for")


def sniff_combined(lines: list[str]) -> float:
    return sum(bool(_COMBINED_SNIFF.match(x)) for x in lines) / max(len(lines), 1)


def sniff_common(lines: list[str]) -> float:
    return sum(bool(_COMMON_SNIFF.match(x)) for x in lines) / max(len(lines), 1)


def _fast(raw: pl.Expr) -> list[pl.Expr]:
    q = raw.str.split_exact('"', 8)
    head = q.struct.field("field_0")
    sb = q.struct.field("field_2").str.strip_chars(" ").str.split_exact(" ", 1)
    b1 = head.str.find("[", literal=True)
    b2 = head.str.find("]", literal=True)
    who = head.str.slice(0, b1).str.strip_chars_end(" ").str.splitn(" ", 3)
    n_quotes = raw.str.count_matches('"', literal=True)
    tail_ok = (
        (n_quotes == 2) & q.struct.field("field_2").str.ends_with(" ").not_()
        | (n_quotes == 6) & (q.struct.field("field_4") == " ") & (q.struct.field("field_6").str.strip_chars() == "")
        | (n_quotes == 8) & (q.struct.field("field_4") == " ") & (q.struct.field("field_6") == " ")
        & (q.struct.field("field_8").str.strip_chars() == "")
    )
    ok = (
        tail_ok
        & raw.str.contains("\\", literal=True).not_()
        & (head.str.ends_with("] "))
        & (b1 > 0)
        & sb.struct.field("field_0").str.contains(r"^(?:\d{3}|-)$")
        & sb.struct.field("field_1").str.contains(r"^(?:\d+|-)$")
        & who.struct.field("field_2").is_not_null()
    )
    return [
        ok.fill_null(False).alias("_fast_ok"),
        who.struct.field("field_0").alias("src_ip"),
        who.struct.field("field_2").alias("user"),
        head.str.slice(b1 + 1, b2 - b1 - 1).alias("time"),
        q.struct.field("field_1").alias("http_request"),
        sb.struct.field("field_0").alias("status"),
        sb.struct.field("field_1").alias("size"),
        q.struct.field("field_3").alias("referer"),
        q.struct.field("field_5").alias("user_agent"),
        pl.lit('"').alias("ua_close"),
        q.struct.field("field_7").alias("forwarded_for"),
    ]


def _slow(raw: pl.Expr) -> list[pl.Expr]:
    g = raw.str.extract_groups(LINE_RE)
    names = [f"{i}" for i in range(1, len(_FIELDS) + 1)]
    exprs = [g.struct.field(n).alias(f) for n, f in zip(names, _FIELDS, strict=True) if f != "ident"]
    return [g.struct.field("1").is_not_null().alias("_fast_ok"), *exprs]


def _request_parts(req: pl.Expr) -> list[pl.Expr]:
    first_sp = req.str.find(" ", literal=True)
    parts = req.str.split(" ")
    n = parts.list.len()
    last = parts.list.last()
    has_version = (n >= 3) & last.str.starts_with("HTTP/")
    target = (
        pl.when(has_version).then(parts.list.slice(1, n - 2).list.join(" "))
        .when(n >= 2).then(req.str.slice(first_sp + 1))
        .otherwise(None)
    )
    method = parts.list.first()
    method_ok = method.str.contains(r"^[A-Za-z][A-Za-z_-]{0,19}$") & (n >= 2)
    qpos = target.str.find("?", literal=True)
    return [
        pl.when(method_ok).then(method).alias("http_method"),
        pl.when(method_ok).then(pl.when(qpos.is_null()).then(target).otherwise(target.str.slice(0, qpos)))
        .alias("url_path"),
        pl.when(method_ok & qpos.is_not_null()).then(target.str.slice(qpos + 1)).alias("url_query"),
        pl.when(has_version).then(last).alias("http_version"),
    ]


def _finish_fields(lf: pl.LazyFrame, ctx: FileContext) -> pl.LazyFrame:
    status = to_int(pl.col("status"), pl.Int16())
    return lf.with_columns(
        parse_offset_time(pl.col("time"), TIME_FORMAT).alias("ts"),
        status.alias("http_status"),
        to_int(dash_null(pl.col("size"))).alias("bytes"),
        dash_null(pl.col("user")).alias("user"),
        dash_null(pl.col("referer")).alias("referer"),
        dash_null(pl.col("user_agent")).alias("user_agent"),
        dash_null(pl.col("forwarded_for")).alias("forwarded_for"),
        pl.lit("web").alias("event_category"),
        pl.when(status < 400).then(pl.lit("success")).when(status >= 400).then(pl.lit("failure"))
        .alias("outcome"),
    ).with_columns(*_request_parts(pl.col("http_request")))


def parse(lines: pl.DataFrame, ctx: FileContext) -> pl.DataFrame:
    """Parse access-log lines into events; lines neither path can read become rejects."""
    raw = pl.col("raw")
    first = lines.lazy().with_columns(_fast(raw)).collect()
    fast = first.filter(pl.col("_fast_ok"))
    slow = first.filter(~pl.col("_fast_ok")).select(lines.columns).lazy().with_columns(_slow(raw)).collect()
    merged = pl.concat([fast, slow.select(fast.columns)]) if slow.height else fast
    lf = _finish_fields(merged.lazy(), ctx)
    reject = (
        pl.when(~pl.col("_fast_ok")).then(pl.lit(f"not a {ctx.format} access-log line"))
        .when(pl.col("ts").is_null()).then(pl.lit("unreadable time: ") + pl.col("time"))
    )
    warning = pl.when(pl.col("ua_close").fill_null('"') == "").then(pl.lit("line ends inside the User-Agent"))
    out = finish(lf, ctx.format, reject, warning=warning).drop("_fast_ok", "time", "status", "size", "ua_close")
    return out.sort("line_no").collect()


__all__ = ["REJECT", "parse", "sniff_combined", "sniff_common"]
