"""Suricata EVE JSON: one object per line, `event_type` saying which kind of record it is.

The whole chunk is decoded by one native `json_decode` into a fixed struct type. Every leaf is
declared as text and cast afterwards, because the decoder refuses a chunk outright when a value
has a different JSON type than declared (a quoted number, say), and a cast only nulls that one
value. A chunk the decoder still refuses is retried without the lines that are not JSON objects
(those become "invalid JSON" rejects), and if it still fails (an object where text was
expected) the refused keys are found and read by path instead (see `decode`): an odd line
costs extra decodes of its slice, never the chunk and never the line.

`action` is the traffic decision, not the verdict: Suricata in IDS mode reports every alert as
"allowed" (the packet went through; the alert is the detection), so `action == "allow"` on an
alert means "detected, not stopped" and never "judged harmless". Only an inline (IPS) sensor says
"blocked", stored as "deny". That an alert fired is `event_action == "alert"` with
`event_category == "intrusion_detection"`.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from secaware.ingest._common import FileContext, finish, to_int
from secaware.schema import UTC_TS

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%z"

_S = pl.String()
#: The part of the EVE record that maps onto event columns; anything else in a line is ignored.
EVE = pl.Struct({
    "timestamp": _S, "flow_id": _S, "event_type": _S, "src_ip": _S, "src_port": _S, "dest_ip": _S,
    "dest_port": _S, "proto": _S, "app_proto": _S, "in_iface": _S, "host": _S, "sensor_name": _S,
    "alert": pl.Struct({"action": _S, "signature_id": _S, "signature": _S, "category": _S, "severity": _S}),
    "http": pl.Struct({"hostname": _S, "url": _S, "http_method": _S, "protocol": _S, "status": _S,
                       "http_user_agent": _S, "http_refer": _S, "length": _S}),
    "flow": pl.Struct({"bytes_toserver": _S, "bytes_toclient": _S, "pkts_toserver": _S, "pkts_toclient": _S}),
    # Suricata <= 7 (dns v2) puts the question in rrname/rrtype; 8 (dns v3) in a queries list.
    "dns": pl.Struct({"type": _S, "rrname": _S, "rrtype": _S,
                      "queries": pl.List(pl.Struct({"rrname": _S, "rrtype": _S}))}),
    "tls": pl.Struct({"sni": _S}),
    "fileinfo": pl.Struct({"filename": _S}),
})

#: event_type -> event_category; every other record type (tls, fileinfo, anomaly, stats...) is
#: "network".
CATEGORIES = {"alert": "intrusion_detection", "flow": "network", "http": "web", "dns": "dns"}
ACTIONS = {"allowed": "allow", "blocked": "deny"}


def sniff(lines: list[str]) -> float:
    """Fraction of lines that look like EVE records: a JSON object naming its event_type."""
    return sum(x.startswith("{") and '"event_type"' in x for x in lines) / max(len(lines), 1)


def _try_decode(text: pl.Series, dtype: pl.DataType = EVE) -> pl.Series | None:
    try:
        return text.str.json_decode(dtype)
    except pl.exceptions.PolarsError:
        return None


def _declared(loose: Collection[str]) -> pl.Struct:
    return pl.Struct([f for f in EVE.fields if f.name not in loose])


def _struct(columns: list[pl.Series]) -> pl.Series:
    return pl.DataFrame(columns).select(pl.struct(pl.all())).to_series()


def _by_path(text: pl.Series, path: str, dtype: pl.DataType) -> pl.Series:
    """Read one key leaf by leaf; json_path_match takes a value of any JSON type as text."""
    if isinstance(dtype, pl.Struct):
        return _struct([_by_path(text, f"{path}.{f.name}", f.dtype).alias(f.name) for f in dtype.fields])
    if isinstance(dtype, pl.List):
        return pl.Series([None] * len(text), dtype=dtype)  # only dns v3 queries; the message loses the name
    return text.str.json_path_match(path)


def _complete(text: pl.Series, decoded: pl.Series, loose: Collection[str]) -> pl.Series:
    """The full EVE struct: decoded keys, plus the loose keys read by path."""
    if not loose:
        return decoded
    cols = [_by_path(text, f"$.{f.name}", f.dtype).alias(f.name) if f.name in loose
            else decoded.struct.field(f.name) for f in EVE.fields]
    return _struct(cols)


def _refused_keys(text: pl.Series, keys: list[str]) -> set[str]:
    """The keys whose values the decoder refuses in some line (bisecting the key set)."""
    if _try_decode(text, pl.Struct([f for f in EVE.fields if f.name in keys])) is not None:
        return set()
    if len(keys) == 1:
        return set(keys)
    mid = len(keys) // 2
    return _refused_keys(text, keys[:mid]) | _refused_keys(text, keys[mid:])


def _decode_slice(text: pl.Series, loose: set[str]) -> tuple[pl.Series, pl.Series]:
    """The slow path for a slice the decoder refused; `loose` gains the keys found refused."""
    parsed = text.str.json_path_match("$").is_not_null()
    valid = parsed & text.str.strip_chars().str.starts_with("{")
    reason = pl.select(pl.when(text.is_null()).then(None)
                       .when(text.str.strip_chars() == "null").then(pl.lit("not a JSON object"))
                       .when(~parsed).then(pl.lit("invalid JSON"))
                       .when(~valid).then(pl.lit("not a JSON object"))).to_series()
    text = pl.select(pl.when(valid).then(text)).to_series()
    decoded = _try_decode(text, _declared(loose))
    if decoded is None:
        loose |= _refused_keys(text, [f.name for f in EVE.fields if f.name not in loose])
        decoded = _try_decode(text, _declared(loose))
        if decoded is None:  # refused only in combination: read everything by path
            loose |= {f.name for f in EVE.fields}
            decoded = _try_decode(text, _declared(loose))
    assert decoded is not None
    return _complete(text, decoded, loose), reason


def decode(raw: pl.Series, loose: set[str] | None = None) -> tuple[pl.Series, pl.Series]:
    """The EVE struct of each line and, for lines that are not JSON objects, why (else null).

    Blank lines are passed as null (an empty string would make the decoder emit no row at all,
    misaligning every line after it). The decoder runs on one thread, and decoding is most of
    this format's cost, so the chunk is cut into one slice per thread decoded side by side.

    `loose` names keys whose values this file has been seen to write with other JSON types than
    declared (relays rewrite records: Filebeat turns `host` into an object); they are read by
    path, which takes any value as text (an object as its JSON), so such lines are never lost.
    Keys found refused are added to it, and the caller keeps it for the file's next chunks.
    """
    loose = set() if loose is None else loose
    text = pl.select(pl.when(raw.str.strip_chars() != "").then(raw)).to_series()
    parts = max(1, min(pl.thread_pool_size(), len(text) // 10_000))
    step = max(1, -(-len(text) // parts))
    slices = [text.slice(i * step, step) for i in range(parts)]
    no_reason = pl.Series(values=[None] * len(raw), dtype=pl.String())
    declared = _declared(loose)
    try:
        frames = pl.collect_all(
            [pl.LazyFrame({"t": s}).select(pl.col("t").str.json_decode(declared)) for s in slices])
        return _complete(text, pl.concat([f.to_series() for f in frames]), loose), no_reason
    except pl.exceptions.PolarsError:
        pass
    decoded, reasons = [], []
    for part in slices:
        d = _try_decode(part, _declared(loose))
        d, r = (_complete(part, d, loose), no_reason.slice(0, len(part))) if d is not None \
            else _decode_slice(part, loose)
        decoded.append(d)
        reasons.append(r)
    return pl.concat(decoded, rechunk=False), pl.concat(reasons, rechunk=False)


def _hostport(ip: pl.Expr, port: pl.Expr) -> pl.Expr:
    ip = pl.when(ip.str.contains(":", literal=True)).then(pl.format("[{}]", ip)).otherwise(ip)
    return pl.concat_str([ip, port], separator=":", ignore_nulls=True)


def _fields() -> list[pl.Expr]:
    j = pl.col("_eve")

    def f(*path: str) -> pl.Expr:
        e = j
        for p in path:
            e = e.struct.field(p)
        return e

    event_type = f("event_type")
    url = f("http", "url")
    qpos = url.str.find("?", literal=True)
    method, version = f("http", "http_method"), f("http", "protocol")
    src_bytes, dst_bytes = to_int(f("flow", "bytes_toserver")), to_int(f("flow", "bytes_toclient"))
    dns_name = pl.coalesce(f("dns", "rrname"), f("dns", "queries").list.first().struct.field("rrname"))
    dns_type = pl.coalesce(f("dns", "rrtype"), f("dns", "queries").list.first().struct.field("rrtype"))
    http_summary = pl.concat_str([method, pl.concat_str([f("http", "hostname"), url], ignore_nulls=True)],
                                 separator=" ", ignore_nulls=True)
    proto = f("proto").str.to_lowercase()
    return [
        f("timestamp").alias("_time"),
        event_type.alias("event_action"),
        pl.when(event_type.is_not_null())
        .then(event_type.replace_strict(CATEGORIES, default="network", return_dtype=pl.String()))
        .alias("event_category"),
        to_int(f("flow_id")).alias("flow_id"),
        f("src_ip").alias("src_ip"),
        to_int(f("src_port"), pl.Int32()).alias("src_port"),
        f("dest_ip").alias("dst_ip"),
        to_int(f("dest_port"), pl.Int32()).alias("dst_port"),
        proto.alias("protocol"),
        f("app_proto").alias("app"),
        f("in_iface").alias("interface_in"),
        pl.coalesce(f("host"), f("sensor_name")).alias("host"),
        f("alert", "signature").alias("signature"),
        to_int(f("alert", "signature_id")).alias("signature_id"),
        f("alert", "category").alias("alert_category"),
        to_int(f("alert", "severity"), pl.Int8()).alias("alert_severity"),
        f("alert", "action").str.to_lowercase().replace(ACTIONS).alias("action"),
        f("http", "hostname").alias("url_domain"),
        pl.when(qpos.is_null()).then(url).otherwise(url.str.slice(0, qpos)).alias("url_path"),
        pl.when(qpos.is_not_null()).then(url.str.slice(qpos + 1)).alias("url_query"),
        method.alias("http_method"),
        version.alias("http_version"),
        pl.when(method.is_not_null() & url.is_not_null())
        .then(pl.concat_str([method, url, version], separator=" ", ignore_nulls=True)).alias("http_request"),
        to_int(f("http", "status"), pl.Int16()).alias("http_status"),
        f("http", "http_user_agent").alias("user_agent"),
        f("http", "http_refer").alias("referer"),
        pl.coalesce(to_int(f("http", "length")), pl.when(event_type == "flow").then(src_bytes + dst_bytes))
        .alias("bytes"),
        src_bytes.alias("src_bytes"),
        dst_bytes.alias("dst_bytes"),
        to_int(f("flow", "pkts_toserver")).alias("src_packets"),
        to_int(f("flow", "pkts_toclient")).alias("dst_packets"),
        pl.when(event_type == "alert").then(f("alert", "signature"))
        .when(event_type == "http").then(http_summary)
        .when(event_type == "dns").then(pl.concat_str(
            [pl.lit("dns"), f("dns", "type"), dns_name, dns_type], separator=" ", ignore_nulls=True))
        .when(event_type == "flow").then(pl.concat_str(
            [pl.lit("flow"), proto, _hostport(f("src_ip"), f("src_port")), pl.lit("->"),
             _hostport(f("dest_ip"), f("dest_port"))], separator=" ", ignore_nulls=True))
        .otherwise(pl.concat_str(
            [event_type, f("app_proto"), f("tls", "sni"), f("fileinfo", "filename")], separator=" ",
            ignore_nulls=True))
        .alias("message"),
    ]


def parse(lines: pl.DataFrame, ctx: FileContext) -> pl.DataFrame:
    """Parse a chunk of EVE lines; lines that are not usable EVE records become rejects."""
    loose = set(ctx.state.get("loose_keys", []))
    eve, why = decode(lines["raw"], loose)
    if loose:
        ctx.state["loose_keys"] = sorted(loose)
    frame = lines.with_columns(eve.alias("_eve"), why.alias("_why")).with_columns(_fields()).drop("_eve")
    ts = frame["_time"].str.strptime(UTC_TS, TIME_FORMAT, strict=False)
    zulu = ts.is_null() & frame["_time"].str.ends_with("Z")
    if zulu.any():  # EVE writes +0000, but records relayed by other tools may say Z
        naive = frame["_time"].str.strip_suffix("Z").str.strptime(pl.Datetime("us"), TIME_FORMAT[:-2], strict=False)
        ts = ts.zip_with(~zulu, naive.dt.replace_time_zone("UTC"))
    reject = (
        pl.when(pl.col("_why").is_not_null()).then(pl.col("_why"))
        .when(pl.col("_eve_null")).then(pl.lit("not a JSON object"))
        .when(pl.col("event_action").is_null()).then(pl.lit("no event_type: not an EVE record"))
        .when(pl.col("ts").is_null()).then(pl.lit("unreadable timestamp: ") + pl.col("_time").fill_null("none"))
    )
    lf = frame.lazy().with_columns(ts.alias("ts"), eve.is_null().alias("_eve_null"))
    return finish(lf, "suricata", reject).drop("_why", "_time", "_eve_null").collect()


__all__ = ["EVE", "decode", "parse", "sniff"]
