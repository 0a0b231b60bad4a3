"""Huawei USG / VRP messages (source `huawei_usg`): `%%01MODULE/severity/MNEMONIC(l):body`.

Session logs (`SECLOG/6/SESSION_TEARDOWN`: `IPVer=4,Protocol=tcp,SourceIP=...,SendBytes=...`)
carry the flow's addresses, volumes and policy; policy logs (`POLICY/6/POLICYDENY`, older
`SEC/4/POLICYDENY`: `protocol=6, source-ip=..., rule-name=...`) carry the decision. The two
families name the same things differently and firmware versions change spacing and case, so
the body is read key by key against an alias table, case-insensitively and with `,` or `, `
between pairs, instead of with one positional regex that the next firmware would break. Every
other `%%01` message (logins, configuration, HA...) is kept as an event named by its mnemonic.

Session and policy bodies are the device's own pair list and are read key by key. Other messages
hold text a user or client chose. VRP quotes it in IPS, antivirus and URL-filter logs (`SignName=
"..."`, `Page="evil.com/a,SourceNatIP=9.9.9.9"`), so there only the flow's addresses, ports and
protocol are read, from the body with its quoted strings blanked: an IPS alert keeps its `SrcIp`.
Messages about users (logins, commands) write the user name unquoted (`SSH_USER_LOGIN_FAIL: ...
(UserName=admin,SourceIP=10.1.250.7, UserAddress=203.0.113.5, ...)`), so nothing is read from them.
A key written twice (a user name in a session body holding `,SourceIP=...`) cannot be told from
its imitation either, so it is left empty with a warning rather than taken from the first.

The header time is kept as the event time (the body's `time=` is the device's local time in a
zone the log does not state); the device's own level from `/6/` is the syslog_severity, because
relays often rewrite or drop `<PRI>`.
"""

from __future__ import annotations

import polars as pl

from secaware.ingest._common import to_int
from secaware.ingest._netfw import add_warning, blank_null, count, keys_written, once, port, protocol, snake, twice
from secaware.ingest.syslog import BODY_LOCAL_TS, BODY_TS, MessageFormat
from secaware.schema import UTC_TS

# The header is captured and the body is what remains after it: capturing a long `.*` tail costs
# several times more than the whole header (the regex engine's capture pass is per character).
_HEAD = r"^%%(?P<ver>\d\d)(?P<module>[^/\s]+)/(?P<sev>\d)/(?P<mnemonic>[^\s(:\[]+)(?:\((?P<type>\w)\))?(?:\[\d+\])?:"
_HEAD_SKIP = r"^%%\d\d[^/\s]+/\d/[^\s(:\[]+(?:\(\w\))?(?:\[\d+\])?:\s*"

#: Column -> the key spellings seen for it across USG firmware and message families.
_KEYS: dict[str, str] = {
    "_proto": "protocol",
    "src_ip": "sourceip|source-ip|srcip|src-ip",
    "dst_ip": "destinationip|destination-ip|dstip|dst-ip",
    "_src_port": "sourceport|source-port|srcport|src-port",
    "_dst_port": "destinationport|destination-port|dstport|dst-port",
    "nat_src_ip": "sourcenatip|source-nat-ip|natsourceip",
    "_nat_src_port": "sourcenatport|source-nat-port|natsourceport",
    "nat_dst_ip": "destinationnatip|destination-nat-ip|natdestinationip",
    "_nat_dst_port": "destinationnatport|destination-nat-port|natdestinationport",
    "_begin": "begintime",
    "_end": "endtime",
    "_src_packets": "sendpkts",
    "_src_bytes": "sendbytes",
    "_dst_packets": "rcvpkts",
    "_dst_bytes": "rcvbytes",
    "_policy": "policyname|rule-name|policy",
    "_app": "application|application-name|applicationname",
    "_user": "username|user-name|user",
    "_time": "time",
}


#: Keys read from messages other than session and policy logs (IPS, antivirus, URL filter): the flow's.
_FLOW_KEYS = frozenset({"_proto", "src_ip", "dst_ip", "_src_port", "_dst_port"})
#: Mnemonics of messages about users, whose user names VRP writes unquoted: nothing is read from them.
_ABOUT_USERS = r"LOGIN|LOGOUT|USER|CMD|PASSWORD|AUTH"

#: Header time and the epoch EndTime of a teardown should agree within the logging delay; more
#: means the header was written in another zone than the one configured for the file.
_CLOCK_SLACK_S = 300


def _pattern(names: str) -> str:
    # Anchored on the separator so `policy` does not match inside `PolicyName` or `source-ip`
    # inside `nat-source-ip`; the value runs to the next `,`.
    return rf"(?i)(?:^|,)\s*(?:{names})\s*="


#: Any pair's key, where `_pattern` finds keys (the name its group); and each key spelling's column.
_ANY_KEY = r"(?i)(?:^|,)\s*([a-z][\w-]*)\s*="
_ALIASES = {alias: col for col, names in _KEYS.items() for alias in names.split("|")}


def _key(body: pl.Expr, written: pl.Expr, col: str, names: str) -> pl.Expr:
    """The key's value; null when the key is written more than once (one of them is someone's text)."""
    return pl.when(once(written, col)).then(body.str.extract(_pattern(names) + "([^,]*)", 1))


def match() -> pl.Expr:
    """Huawei's information-center header; `%%10` (H3C Comware) has the same shape and is not ours."""
    return pl.col("_rest").str.starts_with("%%01").fill_null(False)


def parse(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Split the header, read the body's pairs, and derive action, volumes and duration."""
    frame = frame.with_columns(pl.col("_rest").str.extract_groups(_HEAD).alias("_h"))
    h = pl.col("_h").struct.field
    frame = frame.with_columns(
        pl.when(h("module").is_not_null()).then(pl.col("_rest").str.replace(_HEAD_SKIP, "")).alias("_full_body"))
    lf = frame.with_columns(
        h("module").alias("_module"),
        h("mnemonic").str.to_uppercase().alias("_mnemonic"),
        to_int(h("sev"), pl.Int8).alias("_sev"),
        pl.col("_full_body").str.strip_chars().str.strip_suffix(".").alias("_body"),
    )
    mnemonic = pl.col("_mnemonic")
    # What is read from which message: see the module docstring.
    pairs = mnemonic.str.starts_with("SESSION") | mnemonic.str.starts_with("POLICY")
    body = pl.when(pairs).then(pl.col("_body"))
    quoted_text = (pl.when(~pairs & ~mnemonic.str.contains(_ABOUT_USERS))
                   .then(pl.col("_body").str.replace_all(r'"[^"]*"', '""')))
    lf = lf.with_columns(body.alias("_pairs"), quoted_text.alias("_quoted")).with_columns(
        *(keys_written(pl.col(part), _ANY_KEY, _ALIASES, fold_case=True).alias(f"_written{part}")
          for part in ("_pairs", "_quoted")))
    body, quoted_text = pl.col("_pairs"), pl.col("_quoted")
    in_pairs, in_quoted = pl.col("_written_pairs"), pl.col("_written_quoted")
    lf = lf.with_columns(
        (pl.coalesce(_key(body, in_pairs, col, names), _key(quoted_text, in_quoted, col, names))
         if col in _FLOW_KEYS else _key(body, in_pairs, col, names)).alias(col) for col, names in _KEYS.items())
    begin, end = count(pl.col("_begin")), count(pl.col("_end"))
    src_bytes, dst_bytes = count(pl.col("_src_bytes")), count(pl.col("_dst_bytes"))
    is_flow = mnemonic.str.starts_with("SESSION")
    return lf.with_columns(
        pl.coalesce(h("module"), pl.col("program")).alias("program"),
        # The tag reader took `(s)[12]` for a pid; Huawei's bracket is a sequence number.
        pl.when(h("module").is_null()).then(pl.col("pid")).alias("pid"),
        pl.coalesce(pl.col("_full_body"), pl.col("message")).alias("message"),
        pl.coalesce(pl.col("_sev"), pl.col("syslog_severity")).alias("syslog_severity"),
        protocol(pl.col("_proto")).alias("protocol"),
        blank_null(pl.col("src_ip")).alias("src_ip"),
        blank_null(pl.col("dst_ip")).alias("dst_ip"),
        port(pl.col("_src_port")).alias("src_port"),
        port(pl.col("_dst_port")).alias("dst_port"),
        blank_null(pl.col("nat_src_ip")).alias("nat_src_ip"),
        blank_null(pl.col("nat_dst_ip")).alias("nat_dst_ip"),
        port(pl.col("_nat_src_port")).alias("nat_src_port"),
        port(pl.col("_nat_dst_port")).alias("nat_dst_port"),
        count(pl.col("_src_packets")).alias("src_packets"),
        count(pl.col("_dst_packets")).alias("dst_packets"),
        src_bytes.alias("src_bytes"),
        dst_bytes.alias("dst_bytes"),
        (src_bytes + dst_bytes).alias("bytes"),
        pl.when(end >= begin).then((end - begin) * 1000).alias("duration_ms"),
        # For devices that send no header time, the session's own end (or start) is the time.
        pl.from_epoch(pl.coalesce(end, begin), time_unit="s").dt.replace_time_zone("UTC").cast(UTC_TS)
        .alias(BODY_TS),
        # Policy logs carry the device's local wall-clock time instead (time=2026/11/23 00:41:29).
        pl.col("_time").str.strip_chars().str.strptime(pl.Datetime("us"), "%Y/%m/%d %H:%M:%S", strict=False)
        .alias(BODY_LOCAL_TS),
        blank_null(pl.col("_policy")).alias("policy"),
        blank_null(pl.col("_app")).alias("app"),
        blank_null(pl.col("_user")).alias("user"),
        # A session log exists only for traffic the policy let through.
        pl.when(is_flow | (mnemonic == "POLICYPERMIT")).then(pl.lit("allow"))
        .when(mnemonic == "POLICYDENY").then(pl.lit("deny")).alias("action"),
        pl.when(mnemonic == "POLICYDENY").then(pl.lit("deny"))
        .when(mnemonic == "POLICYPERMIT").then(pl.lit("permit"))
        .otherwise(snake(mnemonic)).alias("event_action"),
        pl.lit("network").alias("event_category"),
        # Session and policy bodies end with "."; without it the line was cut and its last value
        # may be partial.
        add_warning(
            h("mnemonic").is_null()
            | ((is_flow | mnemonic.str.starts_with("POLICY"))
               & (pl.col("src_ip").is_null() | ~pl.col("_full_body").str.ends_with("."))),
            "huawei_usg: message body not fully read",
        ),
    ).with_columns(
        add_warning(
            (pl.col("ts").dt.epoch("s") - end).abs() > _CLOCK_SLACK_S,
            "huawei_usg: header time and the session's EndTime disagree (check the zone configured for this device)",
        ),
    ).with_columns(
        add_warning(twice(pl.coalesce(in_pairs, in_quoted)),
                    "huawei_usg: a key appears more than once (text inside a value?); it is left empty"),
    )


FORMAT = MessageFormat(
    "huawei_usg",
    "Huawei USG firewall %%01 messages: SESSION_TEARDOWN session logs, POLICYDENY, and other events",
    match,
    parse,
)
FORMATS: tuple[MessageFormat, ...] = (FORMAT,)
