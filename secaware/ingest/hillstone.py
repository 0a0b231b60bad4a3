"""Hillstone StoneOS messages (source `hillstone`): `<log id> Class@MODULE: [KIND: ]text`.

The traffic log is prose rather than pairs: `Traffic@FLOW: SESSION: 2.240.148.244:8000->
172.23.19.2:50844(TCP), application TCP-ANY, interface ethernet1/1, vr trust-vr, policy 2, user
-@-, host -, send packets 0,send bytes 0,...,start time 2019-09-25 15:10:40,close time ...,
session end,Ageout`. Releases differ in the separators (`, ` / `,` / `. `) and in which phrases
appear (a session start has no counters, a policy deny ends with `policy deny`), so the flow's
five-tuple is read with one anchored regex and every other phrase on its own, wherever it is.
A line whose last phrase says deny/denied is a deny, whatever its class (`..., policy deny`).

Some of the text is not the device's: the user and host names (`user deny@local`, `host denied-pc`)
and the quoted names in management logs (`Admin user "x, policy 99" logined`) are whatever a user
or a client chose. So the verdict is read only from the last phrase, where StoneOS writes it, and
the phrases are read from the body with quoted strings blanked out: a name that says "deny" or
holds `, policy 99` never makes the session a deny or names its policy. The user and host names are
not quoted: the phrases StoneOS writes before them (application, interface, policy) are read from
their first occurrence, those after them (packets, bytes, times) from their last.

Hillstone's syslog host field is the device's serial number and vsys (`1304415172004335(root)`),
which is kept as the host: it is what identifies the box in an inventory.
"""

from __future__ import annotations

import polars as pl

from secaware.ingest._netfw import add_warning, blank_null, count, port, protocol, snake
from secaware.ingest.syslog import MessageFormat

_MATCH = r"^[0-9a-fA-F]{8} [A-Za-z]+@[A-Za-z]+: "
# Header captured, body sliced off: capturing a long `.*` tail would cost more than all the rest.
_HEAD = r"^(?P<id>[0-9a-fA-F]{8}) (?P<cls>[A-Za-z]+)@(?P<module>[A-Za-z]+): (?:(?P<kind>[A-Z][A-Z_]*): )?"
_HEAD_SKIP = r"^[0-9a-fA-F]{8} [A-Za-z]+@[A-Za-z]+: (?:[A-Z][A-Z_]*: )?"
# Greedy addresses backtrack to the last `:port` before `->` and `(`, so IPv6 addresses survive.
_TUPLE = r"^(?P<src>\S+):(?P<sp>\d+)->(?P<dst>\S+):(?P<dp>\d+)\((?P<proto>[^)]*)\)"
_DATETIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def match() -> pl.Expr:
    """The eight-hex-digit log id and `Class@MODULE:` that StoneOS puts after the host."""
    return pl.col("_rest").str.contains(_MATCH).fill_null(False)


def _phrase(body: pl.Expr, pattern: str) -> pl.Expr:
    return body.str.extract(pattern, 1)


def _last_phrase(body: pl.Expr, pattern: str, value: str) -> pl.Expr:
    """The value of the last `pattern value` phrase: the counters and times follow the user and host
    names, which a user chose (`user a,send bytes 999999999@local`), so the device's own phrase is
    the last one written."""
    return body.str.extract_all(f"{pattern}{value}").list.last().str.extract(f"^{pattern}({value})$", 1)


def parse(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Read the five-tuple and the session phrases, and name the event."""
    frame = frame.with_columns(pl.col("_rest").str.extract_groups(_HEAD).alias("_h"))
    h = pl.col("_h").struct.field
    frame = frame.with_columns(
        pl.when(h("module").is_not_null()).then(pl.col("_rest").str.replace(_HEAD_SKIP, "").str.strip_chars())
        .alias("_body"))
    body = pl.col("_body")
    frame = frame.with_columns(
        body.str.extract_groups(_TUPLE).alias("_t"),
        # Quoted names are a user's or a client's text: blanked before any phrase is looked for.
        body.str.replace_all(r'"[^"]*"', '""').alias("_phrases"),
    ).with_columns(pl.col("_phrases").str.to_lowercase().alias("_lower"))
    tup = pl.col("_t").struct.field
    kind = h("kind")
    lower = pl.col("_lower")
    body = pl.col("_phrases")
    start = _last_phrase(body, "start time ", _DATETIME).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S",
                                                                      strict=False)
    close = _last_phrase(body, "close time ", _DATETIME).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S",
                                                                      strict=False)
    src_bytes = count(_last_phrase(body, "send bytes ", r"\d+"))
    dst_bytes = count(_last_phrase(body, "receive bytes ", r"\d+"))
    policy = _phrase(body, r"(?:^|[,.]) ?policy ([^,\s]+)")
    user = _phrase(body, r"(?:^|[,.]) ?user ([^,\s]+)").str.replace(r"@.*$", "")
    # The verdict ends the line (`, policy deny`); a deny inside a user or host name does not count.
    denied = lower.str.contains(r"(?:^|,)[^,]*\b(?:deny|denied)\b[^,]*$")
    session = kind == "SESSION"
    return frame.with_columns(
        pl.coalesce(h("module"), pl.col("program")).alias("program"),
        pl.coalesce(pl.col("_body"), pl.col("message")).alias("message"),
        tup("src").alias("src_ip"),
        port(tup("sp")).alias("src_port"),
        tup("dst").alias("dst_ip"),
        port(tup("dp")).alias("dst_port"),
        protocol(tup("proto")).alias("protocol"),
        blank_null(_phrase(body, r"(?:^|[,.]) ?application ([^,]+)"), "-").alias("app"),
        blank_null(_phrase(body, r"(?:^|[,.]) ?interface ([^,\s]+)"), "-").alias("interface_in"),
        pl.when(policy != "deny").then(policy).alias("policy"),
        blank_null(user, "-").alias("user"),
        count(_last_phrase(body, "send packets ", r"\d+")).alias("src_packets"),
        count(_last_phrase(body, "receive packets ", r"\d+")).alias("dst_packets"),
        src_bytes.alias("src_bytes"),
        dst_bytes.alias("dst_bytes"),
        (src_bytes + dst_bytes).alias("bytes"),
        pl.when(close >= start).then((close - start).dt.total_milliseconds()).alias("duration_ms"),
        _phrase(body, r"snat to ([^\s,]+):\d+").alias("nat_src_ip"),
        port(_phrase(body, r"snat to [^\s,]+:(\d+)")).alias("nat_src_port"),
        _phrase(body, r"dnat to ([^\s,]+):\d+").alias("nat_dst_ip"),
        port(_phrase(body, r"dnat to [^\s,]+:(\d+)")).alias("nat_dst_port"),
        pl.when(denied).then(pl.lit("deny")).when(session).then(pl.lit("allow")).alias("action"),
        pl.when(denied).then(pl.lit("deny"))
        .when(session & lower.str.contains("session start", literal=True)).then(pl.lit("session_created"))
        .when(session & lower.str.contains("session end", literal=True)).then(pl.lit("session_deleted"))
        .when(kind.is_not_null()).then(snake(kind))
        .otherwise(snake(h("cls") + "_" + h("module")))
        .alias("event_action"),
        pl.lit("network").alias("event_category"),
        add_warning(
            kind.is_in(["SESSION", "NAT"]) & tup("proto").is_null(),
            "hillstone: flow addresses not readable",
        ),
    )


FORMAT = MessageFormat(
    "hillstone",
    "Hillstone StoneOS Traffic@FLOW session, NAT and policy-deny logs, and other Class@MODULE events",
    match,
    parse,
)
FORMATS: tuple[MessageFormat, ...] = (FORMAT,)
