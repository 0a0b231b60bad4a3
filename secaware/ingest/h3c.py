"""H3C Comware firewall messages (source `h3c`): `%%10module/severity/MNEMONIC: Key(id)=value;...`.

Session flow logs (`session/6/SESSION_IPV4_FLOW`) and packet-filter logs
(`FILTER/6/FILTER_ZONE_IPV4_EXECUTION`) are `;`-separated `Name(id)=value` pairs. Values are read
by their numeric id, not their name (and only when their closing `;` arrived, so a line
cut short by a relay yields no half address): the id is fixed by H3C's log specification, while the name
changes between releases (`ObjectPolicy(1072)` vs `SecurityPolicy(1072)`) and some firmware puts
`-Chassis=1-Slot=3.1; ` or spaces between pairs. Other `%%10` messages (logins, ATK attack
defence, shell commands) are kept as events named by their mnemonic.

Only a body that is such a pair list is read by id. Other messages hold text a client chose (the
user name in `SSHS_AUTH_FAIL: SSH user a;SrcIPAddr(1003)=10.1.250.7; failed ... from 203.0.113.5`),
which would otherwise be read as the pair it imitates; and an id that appears twice in a pair list
(a value holding `;SrcIPAddr(1003)=...;`: H3C does not escape `;`) cannot be told from the real one,
so its field is left empty with a warning rather than taken from whichever comes first.

The header time is the event time. `BeginTime_e`/`EndTime_e` (MMDDYYYYhhmmss) are often in UTC
while the header is local, so they are only used for the session's duration, where the zone
cancels out.
"""

from __future__ import annotations

import polars as pl

from secaware.ingest._common import to_int
from secaware.ingest._netfw import add_warning, blank_null, count, port, protocol, snake
from secaware.ingest.syslog import MessageFormat

# Header captured, body sliced off: capturing a long `.*` tail would cost more than all the rest.
_HEAD = r"^%%(?P<ver>\d\d)(?P<module>[^/\s]+)/(?P<sev>\d)/(?P<mnemonic>[^\s:]+):"
_HEAD_SKIP = r"^%%\d\d[^/\s]+/\d/[^\s:]+:\s*"

#: Column -> H3C field id (Comware 7 log field numbering).
_IDS: dict[str, int] = {
    "_proto": 1001, "_app": 1002, "_src_ip": 1003, "_src_port": 1004, "_nat_src_ip": 1005,
    "_nat_src_port": 1006, "_dst_ip": 1007, "_dst_port": 1008, "_nat_dst_ip": 1009, "_nat_dst_port": 1010,
    "_begin": 1013, "_end": 1014, "_src_packets": 1044, "_dst_packets": 1045, "_src_bytes": 1046,
    "_dst_bytes": 1047, "_event": 1048, "_policy": 1072, "_rule_id": 1078, "_user": 1113,
    # IPv6 flows, filters and attack logs name their addresses with ids of their own
    "_src_ip6": 1036, "_dst_ip6": 1037,
}

_TIME_E = "%m%d%Y%H%M%S"
#: A pair-list body starts with a pair, after the `-Chassis=1-Slot=3.1; ` some firmware puts first.
_PAIRS = r"^(?:-[^;]*;\s*)?[A-Za-z][\w-]*\(\d+\)="


def match() -> pl.Expr:
    """H3C's information-center header (Comware 7 writes version 10)."""
    return pl.col("_rest").str.starts_with("%%10").fill_null(False)


def _event_action(mnemonic: pl.Expr, event: pl.Expr) -> pl.Expr:
    """Name the session event so that starts and ends can be paired across vendors.

    Flow logs say `(8)Session created`, and on teardown why: `(1)Normal over`, `(2)Aged for
    timeout`, `(3)Aged for reset or config-change`...; all the endings are one session_deleted
    (the reason stays in the message). Filter logs say Permit or Deny.
    """
    text = event.str.replace(r"^\(\d+\)", "").str.strip_chars().str.to_lowercase()
    return (
        pl.when(mnemonic.str.starts_with("SESSION_") & text.str.contains("created", literal=True))
        .then(pl.lit("session_created"))
        .when(mnemonic.str.starts_with("SESSION_") & (text.str.starts_with("normal over") | text.str.contains("aged")))
        .then(pl.lit("session_deleted"))
        .when(mnemonic.str.starts_with("FILTER_") & text.is_in(["permit", "deny"])).then(text)
        .when(text.is_not_null() & (text != "")).then(snake(text))
        .otherwise(snake(mnemonic))
    )


def parse(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Split the header, read the id-keyed pairs, and derive action, volumes and duration."""
    frame = frame.with_columns(pl.col("_rest").str.extract_groups(_HEAD).alias("_h"))
    h = pl.col("_h").struct.field
    frame = frame.with_columns(
        pl.when(h("module").is_not_null()).then(pl.col("_rest").str.replace(_HEAD_SKIP, "")).alias("_body"))
    body = pl.col("_body")
    # The ids as written in a pair-list body: one that appears twice has no trustworthy value.
    frame = frame.with_columns(pl.when(body.str.contains(_PAIRS)).then(body).alias("_pairs"))
    pairs = pl.col("_pairs")
    frame = frame.with_columns(pairs.str.extract_all(r"\(\d+\)=").alias("_ids"))
    seen = pl.col("_ids")
    lf = frame.with_columns(
        h("mnemonic").str.to_uppercase().alias("_mnemonic"),
        *(pl.when(seen.list.count_matches(f"({i})=") == 1)
          .then(blank_null(pairs.str.extract(rf"\({i}\)=([^;]*);", 1))).alias(col) for col, i in _IDS.items()),
    )
    c = pl.col
    mnemonic = c("_mnemonic")
    src_bytes, dst_bytes = count(c("_src_bytes")), count(c("_dst_bytes"))
    begin = c("_begin").str.strptime(pl.Datetime("us"), _TIME_E, strict=False)
    end = c("_end").str.strptime(pl.Datetime("us"), _TIME_E, strict=False)
    verdict = c("_event").str.to_lowercase()
    is_flow = mnemonic.str.starts_with("SESSION_")
    is_filter = mnemonic.str.starts_with("FILTER_")
    return lf.with_columns(
        pl.coalesce(h("module"), c("program")).alias("program"),
        pl.coalesce(body, c("message")).alias("message"),
        pl.coalesce(to_int(h("sev"), pl.Int8), c("syslog_severity")).alias("syslog_severity"),
        protocol(c("_proto")).alias("protocol"),
        c("_app").alias("app"),
        pl.coalesce("_src_ip", "_src_ip6").alias("src_ip"),
        port(c("_src_port")).alias("src_port"),
        pl.coalesce("_dst_ip", "_dst_ip6").alias("dst_ip"),
        port(c("_dst_port")).alias("dst_port"),
        c("_nat_src_ip").alias("nat_src_ip"),
        port(c("_nat_src_port")).alias("nat_src_port"),
        c("_nat_dst_ip").alias("nat_dst_ip"),
        port(c("_nat_dst_port")).alias("nat_dst_port"),
        count(c("_src_packets")).alias("src_packets"),
        count(c("_dst_packets")).alias("dst_packets"),
        src_bytes.alias("src_bytes"),
        dst_bytes.alias("dst_bytes"),
        (src_bytes + dst_bytes).alias("bytes"),
        pl.when(end >= begin).then((end - begin).dt.total_milliseconds()).alias("duration_ms"),
        # The rule's name when the device logs one, else its number.
        pl.coalesce(c("_policy"), c("_rule_id")).alias("policy"),
        c("_user").alias("user"),
        pl.when(is_filter & (verdict == "permit")).then(pl.lit("allow"))
        .when(is_filter & (verdict == "deny")).then(pl.lit("deny"))
        .when(is_flow).then(pl.lit("allow"))
        .alias("action"),
        _event_action(mnemonic, c("_event")).alias("event_action"),
        pl.lit("network").alias("event_category"),
        add_warning(
            h("mnemonic").is_null()
            | ((is_flow | is_filter) & (pl.coalesce("_src_ip", "_src_ip6").is_null() | c("_event").is_null())),
            "h3c: message body not fully read",
        ),
    ).with_columns(
        add_warning(
            seen.list.len() > seen.list.n_unique(),
            "h3c: a field id appears more than once (text inside a value?); those fields are left empty",
        ),
    )


FORMAT = MessageFormat(
    "h3c",
    "H3C Comware firewall %%10 messages: SESSION_IPV4/IPV6_FLOW session logs, FILTER zone policy logs, other events",
    match,
    parse,
)
FORMATS: tuple[MessageFormat, ...] = (FORMAT,)
