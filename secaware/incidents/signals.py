"""Signs that an attack worked, read from the events around its alerts.

An alert says someone tried; these say it may have worked, and raise the incident's severity:
an injection answered 200 with a response unlike the page's usual size (data came back), a brute
force followed by a successful login from the same source, a web shell path that answers.
"""

from __future__ import annotations

import polars as pl

from secaware.addresses import networks

WEB_SOURCES = ("combined", "common", "iis")
_EXPLOIT_TAGS = ("attack.t1190", "attack.t1059", "attack.t1203")
_WEBSHELL_TAGS = ("attack.t1505",)
_BRUTE_TAGS = ("attack.t1110",)
#: A response counts as unusual when it differs from the page's median 2xx size by this factor.
SIZE_FACTOR = 2.0
MIN_BASELINE = 5


def _tagged(prefixes: tuple[str, ...]) -> pl.Expr:
    return pl.col("tags").list.eval(pl.any_horizontal([pl.element().str.starts_with(p) for p in prefixes])) \
        .list.any().fill_null(False)


def web_success(alerts: pl.DataFrame, events: pl.LazyFrame) -> pl.DataFrame:
    """alert_id -> evidence, for exploit alerts answered 2xx with an unusual size and web shells answering 2xx."""
    wanted = alerts.filter((pl.col("kind") == "event") & (_tagged(_EXPLOIT_TAGS) | _tagged(_WEBSHELL_TAGS)))
    if wanted.height == 0:
        return pl.DataFrame(schema={"alert_id": pl.String, "evidence": pl.String})
    ids = wanted["event_id"].unique().implode()
    hit = (events.filter(pl.col("event_id").is_in(ids) & pl.col("source").is_in(WEB_SOURCES))
           .select("event_id", "url_path", "http_status", "bytes").collect())
    paths = hit["url_path"].drop_nulls().unique().implode()
    baseline = (events.filter(pl.col("url_path").is_in(paths) & ~pl.col("event_id").is_in(ids)
                              & pl.col("http_status").is_between(200, 299))
                .group_by("url_path").agg(pl.col("bytes").median().alias("median"), pl.len().alias("n")).collect())
    rows = wanted.join(hit, on="event_id").join(baseline, on="url_path", how="left")
    ok = pl.col("http_status").is_between(200, 299)
    unusual = (pl.col("n") >= MIN_BASELINE) & (
        (pl.col("bytes") > pl.col("median") * SIZE_FACTOR + 256) | (pl.col("bytes") * SIZE_FACTOR < pl.col("median")))
    shell = _tagged(_WEBSHELL_TAGS)
    found = rows.filter(ok & (shell | unusual.fill_null(False)))
    return found.select(
        "alert_id",
        pl.when(shell).then(pl.format("web shell {} answered {} ({} bytes)", "url_path", "http_status", "bytes"))
        .otherwise(pl.format("attack request to {} answered {} with {} bytes (the page usually sends {})",
                             "url_path", "http_status", "bytes", pl.col("median").round(0).cast(pl.Int64)))
        .alias("evidence"),
    )


def login_after_brute_force(incidents: pl.DataFrame, events: pl.LazyFrame) -> pl.DataFrame:
    """incident_key -> evidence, for brute-force incidents followed by a successful login from the actor."""
    brute = incidents.filter(pl.col("brute_first_ts").is_not_null())
    if brute.height == 0:
        return pl.DataFrame(schema={"incident_key": pl.String, "login_evidence": pl.String})
    actors = brute["actor"].unique().to_list()
    addresses = [a for a in actors if "/" not in a]  # IPv4, and what is no address
    source = pl.col("src_ip").is_in(addresses)
    if len(addresses) < len(actors):  # IPv6 /64s: their addresses are told apart below
        source = source | pl.col("src_ip").str.contains(":", literal=True)
    logins = (events.filter(source & (pl.col("outcome") == "success") & (pl.col("event_category") == "authentication")
                            & pl.col("ts").is_between(brute["brute_first_ts"].min(), brute["horizon"].max()))
              .select("src_ip", pl.col("ts").alias("login_ts"), "user", "host", "file", "line_no").collect())
    # the actor of an IPv6 source is its /64: a login from another address of it is the same actor's
    logins = logins.with_columns(networks(logins["src_ip"]).alias("actor")).drop("src_ip")
    joined = brute.join(logins, on="actor").filter(
        (pl.col("login_ts") >= pl.col("brute_first_ts")) & (pl.col("login_ts") <= pl.col("horizon")))
    first = joined.sort("login_ts").group_by("incident_key", maintain_order=True).first()
    return first.select(
        "incident_key",
        pl.format("successful login as {} on {} at {} after the brute force ({}:{})", "user", "host",
                  pl.col("login_ts").dt.strftime("%Y-%m-%d %H:%M:%S UTC"), "file", "line_no").alias("login_evidence"),
    )


def is_brute_force() -> pl.Expr:
    return _tagged(_BRUTE_TAGS)
