"""IIS W3C extended logs: space-separated fields whose names come from the `#Fields:` directive.

The meaning of a data line depends on the last `#Fields:` line before it, which can be in an
earlier chunk or an earlier run (IIS writes a new header block after every restart, and a site
can change its field selection in between). So the parser forward-fills the header within the
chunk, starts from the header kept in `ctx.state["fields"]`, and leaves the last one there for
the next chunk. Lines are grouped by header (one or two groups per chunk in practice) and each
group is split once, natively, on spaces; there is no regex on the data lines.

IIS writes UTC whatever the server's zone, so `ctx.tz` is deliberately not used. It replaces
spaces inside a field with `+` and writes `-` for an empty field.
"""

from __future__ import annotations

import re

import polars as pl

from secaware.ingest._common import FileContext, dash_null, finish, to_int
from secaware.schema import UTC_TS

#: Directives of the W3C extended format. IIS writes the first five; Start-Date and End-Date are
#: in the W3C draft and some third-party writers use them, so they are skipped too rather than
#: rejected.
DIRECTIVES = ("Software", "Version", "Date", "Fields", "Remark", "Start-Date", "End-Date")
_DIRECTIVE_RE = r"^#(?:" + "|".join(re.escape(d) for d in DIRECTIVES) + r"):"
_FIELDS_PREFIX = "#Fields:"
_DATE_PREFIX = "#Date:"
_SNIFF_DIRECTIVE = re.compile(_DIRECTIVE_RE)
_SNIFF_DATA = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ")

#: W3C field name (lower case) -> event column, for fields copied as text with '-' meaning empty.
_TEXT_FIELDS = {
    "s-ip": "dst_ip",
    "c-ip": "src_ip",
    "cs-method": "http_method",
    "cs-uri-stem": "url_path",
    "cs-uri-query": "url_query",
    "cs-username": "user",
    "cs(referer)": "referer",
    "cs-host": "url_domain",
    "s-computername": "host",
    "cs-version": "http_version",
    "x-forwarded-for": "forwarded_for",
    "cs(x-forwarded-for)": "forwarded_for",
}
#: W3C field name (lower case) -> (event column, integer type).
_INT_FIELDS: dict[str, tuple[str, pl.DataType]] = {
    "s-port": ("dst_port", pl.Int32()),
    "c-port": ("src_port", pl.Int32()),
    "sc-status": ("http_status", pl.Int16()),
    "sc-bytes": ("bytes", pl.Int64()),
    "cs-bytes": ("src_bytes", pl.Int64()),
    "time-taken": ("duration_ms", pl.Int64()),
}
#: Every event column this parser can fill, so frames of different header groups concatenate.
OUTPUT = {
    "ts": UTC_TS, "src_ip": pl.String(), "src_port": pl.Int32(), "dst_ip": pl.String(),
    "dst_port": pl.Int32(), "user": pl.String(), "http_method": pl.String(), "url_path": pl.String(),
    "url_query": pl.String(), "http_version": pl.String(), "http_status": pl.Int16(), "bytes": pl.Int64(),
    "src_bytes": pl.Int64(), "user_agent": pl.String(), "referer": pl.String(), "forwarded_for": pl.String(),
    "url_domain": pl.String(), "http_request": pl.String(), "duration_ms": pl.Int64(), "host": pl.String(),
    "event_category": pl.String(), "outcome": pl.String(),
}


def header_fields(line: str) -> list[str]:
    """Field names of a `#Fields:` line, in order."""
    return line[len(_FIELDS_PREFIX):].split()


def directive_date(line: str) -> str:
    """The day (YYYY-MM-DD) of a `#Date: 2015-07-28 00:00:00` directive."""
    return line[len(_DATE_PREFIX):].strip()[:10]


def sniff(lines: list[str]) -> float:
    """Fraction of lines that are W3C directives or data lines matching the header before them.

    Data lines only count after a `#Fields:` line, so an unrelated space-separated log cannot
    score; they count when they have the header's number of fields or start with a date and time,
    so a site whose lines disagree with its header is still read as IIS (and its lines rejected
    with the field counts) rather than taken for syslog, whose numeric header such lines match.
    """
    fields: list[str] | None = None
    hits = 0
    for line in lines:
        if _SNIFF_DIRECTIVE.match(line):
            hits += 1
            if line.startswith(_FIELDS_PREFIX):
                fields = header_fields(line)
        elif fields and (len(line.split(" ")) == len(fields) or _SNIFF_DATA.match(line)):
            hits += 1
    return hits / max(len(lines), 1)


def _split(frame: pl.DataFrame, n: int) -> pl.DataFrame:
    """Add the first n space-separated fields as columns _f0.._f{n-1} and the field count as _n.

    Splitting is most of the parser's time, so it is done once into a list (which also gives the
    count the field check needs) and the columns are taken from it before anything uses them.
    """
    parts = frame.select(pl.col("raw").str.split(" ")).to_series()
    return frame.with_columns(
        parts.list.len().alias("_n"),
        *(parts.list.get(i, null_on_oob=True).alias(f"_f{i}") for i in range(n)),
    )


def _group(names: list[str]) -> list[pl.Expr]:
    """Event columns for data lines written under one `#Fields:` header (after `_split`)."""
    n = len(names)
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name.lower(), i)

    def text(name: str) -> pl.Expr | None:
        i = index.get(name)
        return None if i is None else dash_null(pl.col(f"_f{i}"))

    cols: dict[str, pl.Expr] = {}
    for name, col in _TEXT_FIELDS.items():
        e = text(name)
        if e is not None and col not in cols:
            cols[col] = e
    for name, (col, dtype) in _INT_FIELDS.items():
        e = text(name)
        if e is not None:
            cols[col] = to_int(e, dtype)
    ua = text("cs(user-agent)")
    if ua is not None:
        cols["user_agent"] = ua.str.replace_all("+", " ", literal=True)

    date, time = text("date"), text("time")
    if date is None:
        # Older writers omit the date field; the day is then the one of the last #Date: directive.
        date = pl.col("_date").str.slice(len(_DATE_PREFIX)).str.strip_chars().str.slice(0, 10)
    if time is not None:
        stamp = pl.concat_str([date, time], separator=" ")
        cols["ts"] = stamp.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False) \
            .dt.replace_time_zone("UTC")
    else:
        stamp = pl.lit(None, dtype=pl.String())

    status = cols.get("http_status")
    if status is not None:
        cols["outcome"] = pl.when(status < 400).then(pl.lit("success")).when(status >= 400) \
            .then(pl.lit("failure"))
    method, path = cols.get("http_method"), cols.get("url_path")
    if method is not None and path is not None:
        target = path if "url_query" not in cols else pl.concat_str(
            [path, cols["url_query"]], separator="?", ignore_nulls=True)
        cols["http_request"] = pl.when(method.is_not_null() & path.is_not_null()).then(pl.concat_str(
            [method, target, cols.get("http_version", pl.lit(None, dtype=pl.String()))],
            separator=" ", ignore_nulls=True))
    cols["event_category"] = pl.lit("web")

    count = pl.col("_n")
    reason = (
        pl.when(count != n).then(pl.format(f"{{}} fields where the #Fields: header has {n}", count))
        .when(pl.lit(time is None)).then(pl.lit("the #Fields: header has no time field"))
        .when(cols.get("ts", pl.lit(None, dtype=UTC_TS)).is_null())
        .then(pl.lit("unreadable date/time: ") + stamp.fill_null("-"))
    )
    return [
        *(cols.get(c, pl.lit(None, dtype=t)).cast(t).alias(c) for c, t in OUTPUT.items()),
        reason.alias("_reason"),
    ]


def _nulls() -> list[pl.Expr]:
    return [pl.lit(None, dtype=t).alias(c) for c, t in OUTPUT.items()]


def parse(lines: pl.DataFrame, ctx: FileContext) -> pl.DataFrame:
    """Parse a chunk of an IIS log; directives are skipped and remembered, data lines become events."""
    raw = pl.col("raw")
    hashed = raw.str.starts_with("#")
    prior_fields = ctx.state.get("fields")
    prior = " ".join([_FIELDS_PREFIX, *prior_fields]) if prior_fields is not None else None
    prior_date = f"{_DATE_PREFIX} {ctx.state['date']}" if ctx.state.get("date") else None
    frame = lines.with_columns(
        (hashed & raw.str.contains(_DIRECTIVE_RE)).alias("_directive"),
        pl.when(raw.str.starts_with(_FIELDS_PREFIX)).then(raw)
        .forward_fill().fill_null(pl.lit(prior, dtype=pl.String())).alias("_fields"),
        pl.when(raw.str.starts_with(_DATE_PREFIX)).then(raw)
        .forward_fill().fill_null(pl.lit(prior_date, dtype=pl.String())).alias("_date"),
    ).with_columns(
        (hashed | (raw.str.strip_chars() == "")).alias("_other"),
    )

    pieces = [frame.filter(pl.col("_other")).with_columns(
        *_nulls(),
        pl.when(pl.col("_directive") | ~hashed).then(None)
        .otherwise(pl.lit("unknown #directive")).alias("_reason"),
    ).select(*frame.columns, *OUTPUT, "_reason")]
    data = frame.filter(~pl.col("_other"))
    for header in data["_fields"].unique(maintain_order=True).to_list():
        if header is None:
            group = data.filter(pl.col("_fields").is_null())
            exprs = [*_nulls(), pl.lit("no #Fields: header before this line").alias("_reason")]
        else:
            group = data.filter(pl.col("_fields") == header)
            names = header_fields(header)
            if names:
                group = _split(group, len(names))
                exprs = _group(names)
            else:
                exprs = [*_nulls(), pl.lit("the #Fields: header is empty").alias("_reason")]
        pieces.append(group.with_columns(exprs).select(*frame.columns, *OUTPUT, "_reason"))
    merged = pl.concat(pieces) if len(pieces) > 1 else pieces[0]
    if len(pieces) > 2 or pieces[0].height:
        merged = merged.sort("line_no")

    headers = frame.filter(raw.str.starts_with(_FIELDS_PREFIX))["_fields"]
    if headers.len():
        ctx.state["fields"] = header_fields(headers[-1])
    dates = frame.filter(raw.str.starts_with(_DATE_PREFIX))["_date"]
    if dates.len():
        ctx.state["date"] = directive_date(dates[-1])

    skip = pl.col("_directive") | (pl.col("_other") & ~hashed)  # directives and blank lines
    out = finish(merged.lazy(), "iis", pl.col("_reason"), skip=skip)
    return out.drop("_directive", "_fields", "_date", "_other", "_reason").collect()


__all__ = ["parse", "sniff"]
