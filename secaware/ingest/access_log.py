"""nginx and Apache access logs: `combined`, `common`, and combined with a trailing X-Forwarded-For.

Most lines take a fast path that splits on the quote character (native string splitting, no
regex); lines it cannot vouch for (Apache's \\" escapes, truncated fields, odd quote counts) go
through a regex that understands escapes, and only what that regex also refuses is rejected.
"""

from __future__ import annotations

import io
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


def _fast(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Split on quotes; each step materialises its columns so no split is computed twice."""
    raw = pl.col("raw")
    q = pl.col("_q")
    lf = lf.with_columns(raw.str.split_exact('"', 8).alias("_q"), raw.str.count_matches('"', literal=True).alias("_n"))
    lf = lf.with_columns(
        q.struct.field("field_0").alias("_head"),
        q.struct.field("field_2").str.strip_chars(" ").str.split_exact(" ", 1).alias("_sb"),
        q.struct.field("field_1").alias("http_request"),
        q.struct.field("field_3").alias("referer"),
        q.struct.field("field_5").alias("user_agent"),
        q.struct.field("field_7").alias("forwarded_for"),
        pl.lit('"').alias("ua_close"),
        (
            (pl.col("_n") == 2) & q.struct.field("field_2").str.ends_with(" ").not_()
            | (pl.col("_n") == 6) & (q.struct.field("field_4") == " ")
            & (q.struct.field("field_6").str.strip_chars() == "")
            | (pl.col("_n") == 8) & (q.struct.field("field_4") == " ") & (q.struct.field("field_6") == " ")
            & (q.struct.field("field_8").str.strip_chars() == "")
        ).alias("_tail_ok"),
    )
    head = pl.col("_head")
    lf = lf.with_columns(
        head.str.find("[", literal=True).alias("_b1"),
        head.str.find("]", literal=True).alias("_b2"),
        pl.col("_sb").struct.field("field_0").alias("status"),
        pl.col("_sb").struct.field("field_1").alias("size"),
    )
    lf = lf.with_columns(
        head.str.slice(0, pl.col("_b1")).str.strip_chars_end(" ").str.splitn(" ", 3).alias("_who"),
        head.str.slice(pl.col("_b1") + 1, pl.col("_b2") - pl.col("_b1") - 1).alias("time"),
    )
    ok = (
        pl.col("_tail_ok")
        & raw.str.contains("\\", literal=True).not_()
        & head.str.ends_with("] ")
        & (pl.col("_b1") > 0)
        & pl.col("status").str.contains(r"^(?:\d{3}|-)$")
        & pl.col("size").str.contains(r"^(?:\d+|-)$")
        & pl.col("_who").struct.field("field_2").is_not_null()
    )
    return lf.with_columns(
        ok.fill_null(False).alias("_fast_ok"),
        pl.col("_who").struct.field("field_0").alias("src_ip"),
        pl.col("_who").struct.field("field_2").alias("user"),
    ).drop("_q", "_n", "_head", "_sb", "_tail_ok", "_b1", "_b2", "_who")


def _slow(raw: pl.Expr) -> list[pl.Expr]:
    g = raw.str.extract_groups(LINE_RE)
    names = [f"{i}" for i in range(1, len(_FIELDS) + 1)]
    exprs = [g.struct.field(n).alias(f) for n, f in zip(names, _FIELDS, strict=True) if f != "ident"]
    return [g.struct.field("1").is_not_null().alias("_fast_ok"), *exprs]


def _request_parts(lf: pl.LazyFrame) -> pl.LazyFrame:
    """METHOD target VERSION; junk request lines (TLS handshakes, binary) keep only http_request."""
    req = pl.col("http_request")
    lf = lf.with_columns(
        req.str.splitn(" ", 2).alias("_mr"),
        req.str.slice(-10).str.extract(r" (HTTP/\d(?:\.\d)?)$").alias("http_version"),
    )
    version = pl.col("http_version")
    method = pl.col("_mr").struct.field("field_0")
    rest = pl.col("_mr").struct.field("field_1")
    lf = lf.with_columns(
        (method.str.contains(r"^[A-Za-z][A-Za-z_-]{0,19}$") & rest.is_not_null()).fill_null(False).alias("_m_ok"),
        pl.when(version.is_not_null()).then(rest.str.head(rest.str.len_chars() - version.str.len_chars() - 1))
        .otherwise(rest).alias("_target"),
        method.alias("_method"),
    ).with_columns(pl.col("_target").str.splitn("?", 2).alias("_pq"))
    m_ok = pl.col("_m_ok")
    return lf.with_columns(
        pl.when(m_ok).then(pl.col("_method")).alias("http_method"),
        pl.when(m_ok).then(pl.col("_pq").struct.field("field_0")).alias("url_path"),
        pl.when(m_ok).then(pl.col("_pq").struct.field("field_1")).alias("url_query"),
    ).drop("_mr", "_m_ok", "_target", "_method", "_pq")


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
    ).pipe(_request_parts)


_CSV_COLUMNS = {f"c{i}": pl.String for i in range(12)}
_QUOTED = ("c5", "c8", "c9", "c10")


def _csv(lines: pl.DataFrame, text: bytes | None) -> pl.DataFrame | None:
    """Fields by Polars' native CSV reader: an access-log line is space-separated with quoted fields.

    Missing and empty fields both read as null, so a line with an empty quoted field ("") fails the
    length check below and takes a string path. A row is trusted only if its fields and separators
    add up to exactly the raw line's length
    (so no CSV unescaping changed anything and no field was split or merged) and its bracketed
    time, status and size are where they belong; the others go through the string splitters.
    """
    if text is None:
        return None
    try:
        df = pl.read_csv(io.BytesIO(text), separator=" ", quote_char='"', has_header=False, schema=_CSV_COLUMNS,
                         truncate_ragged_lines=True, missing_columns="insert", extra_columns="ignore",
                         empty_string_is_null=True, raise_if_empty=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.SchemaError):
        # a line the CSV reader splits differently (e.g. Apache's \" before spaces) sends the chunk
        # to the string splitters; the per-line length check below catches the rest
        return None
    if df.height != lines.height:
        return None
    c = pl.col
    present = [c(f"c{i}").is_not_null().cast(pl.Int32) for i in range(11)]
    n = pl.sum_horizontal(present)
    length = pl.sum_horizontal([c(f"c{i}").str.len_bytes().fill_null(0) for i in range(11)])
    quotes = pl.sum_horizontal([c(q).is_not_null().cast(pl.Int32) for q in _QUOTED]) * 2
    ok = (
        c("c11").is_null()
        & n.is_in([8, 10, 11])
        & (pl.col("raw").str.len_bytes() == length + n - 1 + quotes)
        & c("c3").str.starts_with("[") & c("c4").str.ends_with("]")
        & c("c6").str.contains(r"^(?:\d{3}|-)$") & c("c7").str.contains(r"^(?:\d+|-)$")
    )
    return pl.concat([lines, df], how="horizontal").select(
        *lines.columns,
        ok.fill_null(False).alias("_fast_ok"),
        c("c0").alias("src_ip"),
        c("c2").alias("user"),
        (c("c3").str.slice(1) + " " + c("c4").str.strip_suffix("]")).alias("time"),
        c("c5").alias("http_request"),
        c("c6").alias("status"),
        c("c7").alias("size"),
        c("c8").alias("referer"),
        c("c9").alias("user_agent"),
        pl.lit('"').alias("ua_close"),
        c("c10").alias("forwarded_for"),
    )


def parse(lines: pl.DataFrame, ctx: FileContext) -> pl.DataFrame:
    """Parse access-log lines into events; lines no path can read become rejects.

    Three paths, cheapest first: the CSV reader on the chunk's bytes, splits on the quote
    character, and a regex that understands Apache's escapes; each takes only what the previous
    one could not vouch for.
    """
    first = _csv(lines, ctx.chunk_text)
    if first is None:
        first = lines.lazy().pipe(_fast).collect()
    else:
        rest = first.filter(~pl.col("_fast_ok")).select(lines.columns)
        if rest.height:
            split = rest.lazy().pipe(_fast).collect().select(first.columns)
            first = pl.concat([first.filter(pl.col("_fast_ok")), split])
    fast = first.filter(pl.col("_fast_ok"))
    slow = first.filter(~pl.col("_fast_ok")).select(lines.columns).lazy().with_columns(_slow(pl.col("raw"))).collect()
    merged = pl.concat([fast, slow.select(fast.columns)]) if slow.height else fast
    unordered = slow.height > 0 or fast.height < lines.height
    lf = _finish_fields(merged.lazy(), ctx)
    reject = (
        pl.when(~pl.col("_fast_ok")).then(pl.lit(f"not a {ctx.format} access-log line"))
        .when(pl.col("ts").is_null()).then(pl.lit("unreadable time: ") + pl.col("time"))
    )
    warning = pl.when(pl.col("ua_close").fill_null('"') == "").then(pl.lit("line ends inside the User-Agent"))
    out = finish(lf, ctx.format, reject, warning=warning).drop("_fast_ok", "time", "status", "size", "ua_close")
    return (out.sort("line_no") if unordered else out).collect()


__all__ = ["REJECT", "parse", "sniff_combined", "sniff_common"]
