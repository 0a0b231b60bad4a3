"""Behaviour features: what one entity did in one window, computed with Polars from the events table.

Four feature sets, each one row per entity and window:

- `web_source_hour`: a source address on the websites (access logs) in one hour;
- `auth_account_day`: an account (user@host) on the hosts' login logs in one local day;
- `auth_source_day`: a source address on the hosts' login logs in one local day;
- `fw_source_hour`: a source address on the firewalls (and IDS flows) in one hour.

"New" features ask whether the baseline had seen the entity (or, for accounts, the account-source
pair) before the window's time: the model keeps when it first saw each one, so a window after the
baseline is compared with the whole baseline, and a window inside it (training walks the baseline
in time order, and a first scoring run may cover it) with what came before, the same question.

The functions here return lazy frames; collecting is the caller's business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from secaware.addresses import networks

#: Access-log formats: the web logs behaviour is measured on (IDS http records would count twice).
WEB_SOURCES = ("combined", "common", "iis")
#: Login-log actions that say something about an account or a source (not cron or session bookkeeping).
AUTH_ACTIONS = ("logged_in", "login_failed", "invalid_user", "auth_failure", "user_unknown", "account_locked",
                "sudo", "telnet_connect")
DENY_ACTIONS = ("deny", "drop", "reject")
ADMIN_PATH = (r"(?i)(admin|login|logon|signin|sign_in|passport|manage|console|dashboard|wp-|phpmyadmin|"
              r"/user/|/auth|/sso|password|/system/)")
STATIC_PATH = r"(?i)\.(css|js|png|jpe?g|gif|ico|svg|woff2?|ttf|eot|webp|bmp|mp4)$"
PRIVATE_IP = (r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|127\.|169\.254\.|::1$|[fF][cCdD][0-9a-fA-F]{2}:|"
              r"[fF][eE]80:)")
NIGHT_HOURS = 6  # local hours 00:00-05:59 count as night
DEFAULT_TZ = "Asia/Shanghai"
#: Columns every feature set returns besides its features.
KEYS = ("entity", "window_start", "window_end", "events", "prefecture", "system", "host", "file", "batch_id")


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # how an explanation names it
    unit: str  # count, ratio, bytes, flag, minutes, score
    log: bool = False  # log1p before the detectors (counts and byte sums are heavy-tailed)


@dataclass(frozen=True)
class FeatureSet:
    name: str
    entity_type: str  # ip or account
    window: str  # 1h or 1d
    description: str
    columns: tuple[str, ...]  # event columns read
    where: Callable[[], pl.Expr]
    features: tuple[Feature, ...]
    build: Callable[[pl.LazyFrame, str, dict[str, pl.Series] | None], pl.LazyFrame]

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def compute(self, events: pl.LazyFrame, *, tz: str = DEFAULT_TZ, known: dict[str, pl.DataFrame] | None = None,
                as_of: dt.datetime | None = None) -> pl.LazyFrame:
        """One row per entity and window: KEYS then the features (floats).

        known: first-seen tables (see known_sets); an entity first seen before as_of (default: ever)
        is not new. Windows computed together should start at or after as_of.
        """
        sets = {name: (table if as_of is None else table.filter(pl.col("first") < as_of))["value"]
                for name, table in (known or {}).items()}
        # a baseline learnt when IPv6 sources were addresses: their /64s are what it knows
        if self.entity_type == "ip" and "entities" in sets:
            sets["entities"] = networks(sets["entities"])
        if "pairs" in sets:  # account|source
            pairs = sets["pairs"].to_frame("v").select(pl.col("v").str.extract(r"^(.*)\|", 1).alias("who"),
                                                       pl.col("v").str.extract(r"\|([^|]*)$", 1).alias("source"))
            pairs = pairs.with_columns(networks(pairs["source"]).alias("source"))
            sets["pairs"] = pairs.select(pl.concat_str(["who", pl.lit("|"), "source"]).alias("value"))["value"]
        out = self.build(events.filter(self.where()), tz, sets)
        return out.select(*KEYS, *[pl.col(f.name).cast(pl.Float64).fill_null(0.0).fill_nan(0.0)
                                   for f in self.features])

    def window_keys(self, events: pl.LazyFrame, *, tz: str = DEFAULT_TZ) -> pl.LazyFrame:
        """The events this feature set reads, each with the entity and window_start it counts towards."""
        return _with_window(self, events.filter(self.where()), tz)

    def known_sets(self, events: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        """What these events teach the "new" features, as (value, first) tables: the entities, and for
        accounts the sources they logged in from, with the first time each was seen."""
        lf = _entity_frame(self, events.filter(self.where()))
        out = {"entities": lf.filter(pl.col("entity").is_not_null()).group_by(pl.col("entity").alias("value")).agg(
            pl.col("ts").min().alias("first"))}
        if self.name == "auth_account_day":
            out["pairs"] = lf.filter((pl.col("event_action") == "logged_in") & _pair().is_not_null()).group_by(
                _pair().alias("value")).agg(pl.col("ts").min().alias("first"))
        return out


def _local(tz: str) -> pl.Expr:
    return pl.col("ts").dt.convert_time_zone(tz)


def _night(tz: str, column: str = "ts") -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(tz).dt.hour() < NIGHT_HOURS


def _private(column: str) -> pl.Expr:
    return pl.col(column).str.contains(PRIVATE_IP).fill_null(False)


def _window(window: str, tz: str) -> pl.Expr:
    if window == "1d":  # the local day, as people count days
        return _local(tz).dt.truncate("1d").dt.convert_time_zone("UTC")
    return pl.col("ts").dt.truncate(window)


def site_key() -> pl.Expr:
    """Which website: the virtual host when logged, else the last two folders of the log file's path
    (`620100-lanzhou/lz-portal`, `ts-gjj/W3SVC1`): what collectors name after the site."""
    return pl.coalesce(pl.col("url_domain").str.to_lowercase().str.replace(r":\d+$", ""),
                       pl.col("file").str.replace(r"/[^/]*$", "").str.extract(r"([^/]*/[^/]*)$"),
                       pl.col("file").str.replace(r"/[^/]*$", ""))


def _pair() -> pl.Expr:
    return pl.concat_str([pl.col("entity"), pl.lit("|"), pl.col(SOURCE)])


#: The source of an event as the features count it: its address, an IPv6 source's /64 (as in the
#: correlations and incidents: one client's temporary addresses, or an attacker spreading its
#: requests over them, are one source).
SOURCE = "__source"


def _entity_frame(fs: FeatureSet, lf: pl.LazyFrame) -> pl.LazyFrame:
    lf = lf.with_columns(pl.col("src_ip").map_batches(networks, return_dtype=pl.String, is_elementwise=True)
                         .alias(SOURCE))
    if fs.entity_type == "account":
        return lf.with_columns(pl.concat_str([pl.col("user"), pl.lit("@"), pl.col("host").fill_null("?")])
                               .alias("entity"))
    return lf.with_columns(pl.col(SOURCE).alias("entity"))


def _is_new(known: dict[str, pl.Series] | None, name: str, expr: pl.Expr) -> pl.Expr:
    """Not among what the baseline (or, while training, its earlier days) knows."""
    values = (known or {}).get(name)
    if values is None or values.len() == 0:
        return pl.lit(True)
    return ~expr.is_in(values.implode()).fill_null(False)


def _with_window(fs: FeatureSet, lf: pl.LazyFrame, tz: str) -> pl.LazyFrame:
    lf = _entity_frame(fs, lf).filter(pl.col("entity").is_not_null() & pl.col("ts").is_not_null())
    start = _window(fs.window, tz)
    step = "1d" if fs.window == "1d" else fs.window
    return lf.with_columns(start.alias("window_start")).with_columns(
        pl.col("window_start").dt.offset_by(step).alias("window_end"))


def _common() -> list[pl.Expr]:
    return [pl.len().alias("events"), pl.col("prefecture").first().alias("prefecture"),
            pl.col("file").first().alias("file"),  # one of the window's files: names its system from the inventory
            pl.col("batch_id").max().alias("batch_id")]


def _web(lf: pl.LazyFrame, tz: str, known: dict[str, pl.Series] | None) -> pl.LazyFrame:
    lf = _with_window(WEB_SOURCE_HOUR, lf, tz).with_columns(site_key().alias("site"),
                                                           pl.col("ts").dt.truncate("1m").alias("__minute"))
    keys = ["entity", "window_start"]
    # requests per minute of the hour: the busiest minute, and how unevenly the hour is used
    minutes = lf.group_by(*keys, "__minute").agg(pl.len().alias("__c")).group_by(*keys).agg(
        pl.len().alias("active_minutes"), pl.col("__c").max().alias("max_per_minute"),
        (pl.col("__c").cast(pl.Float64) ** 2).sum().alias("__sumsq"))
    out = lf.group_by(*keys, "window_end").agg(
        *_common(),
        pl.col("site").first().alias("system"),
        pl.lit(None, dtype=pl.String).alias("host"),
        pl.col("url_path").hash().n_unique().alias("distinct_paths"),  # 64-bit hashes: cheaper than strings
        pl.col("site").n_unique().alias("distinct_sites"),
        (pl.col("http_status") >= 400).mean().alias("error_ratio"),
        (pl.col("http_status") == 404).mean().alias("not_found_ratio"),
        pl.col("bytes").sum().alias("bytes"),
        pl.col("user_agent").hash().n_unique().alias("distinct_user_agents"),
        pl.col("url_path").str.contains(ADMIN_PATH).mean().alias("admin_login_share"),
        pl.col("url_path").str.contains(STATIC_PATH).mean().alias("static_share"),
        (pl.col("http_method") == "POST").mean().alias("post_share"),
    ).join(minutes, on=keys, how="left")
    mean = pl.col("events").cast(pl.Float64) / 60.0
    return out.with_columns(
        pl.col("events").alias("requests"),
        # index of dispersion of requests per minute: 0 clockwork, about 1 random, far above 1 bursts
        ((pl.col("__sumsq") / 60.0 - mean * mean) / mean).alias("burstiness"),
        _night(tz, "window_start").cast(pl.Float64).alias("night"),
        _is_new(known, "entities", pl.col("entity")).alias("new_source"),
    )


def _auth_account(lf: pl.LazyFrame, tz: str, known: dict[str, pl.Series] | None) -> pl.LazyFrame:
    lf = _with_window(AUTH_ACCOUNT_DAY, lf, tz)
    login = pl.col("event_action") == "logged_in"
    lf = lf.with_columns(_is_new(known, "pairs", _pair()).alias("__new_pair"))
    out = lf.group_by("entity", "window_start", "window_end").agg(
        *_common(),
        pl.lit(None, dtype=pl.String).alias("system"),
        pl.col("host").drop_nulls().first().alias("host"),
        (pl.col("outcome") == "failure").sum().alias("failures"),
        login.sum().alias("successes"),
        pl.col(SOURCE).drop_nulls().n_unique().alias("distinct_sources"),
        pl.col(SOURCE).filter(~_private(SOURCE)).drop_nulls().n_unique().alias("external_sources"),
        (login & ~_private(SOURCE)).sum().alias("external_logins"),
        (login & _night(tz)).sum().alias("night_logins"),
        (login & (pl.col("auth_method") == "password")).sum().alias("password_logins"),
        pl.col(SOURCE).filter(login & pl.col("__new_pair")).drop_nulls().n_unique().alias("new_sources"),
        (pl.col("event_action") == "sudo").sum().alias("sudo"),
    )
    return out.with_columns(
        _is_new(known, "entities", pl.col("entity")).alias("new_account"))


def _auth_source(lf: pl.LazyFrame, tz: str, known: dict[str, pl.Series] | None) -> pl.LazyFrame:
    lf = _with_window(AUTH_SOURCE_DAY, lf, tz)
    login = pl.col("event_action") == "logged_in"
    out = lf.group_by("entity", "window_start", "window_end").agg(
        *_common(),
        pl.lit(None, dtype=pl.String).alias("system"),
        pl.col("host").drop_nulls().first().alias("host"),
        (pl.col("outcome") == "failure").sum().alias("failures"),
        login.sum().alias("successes"),
        pl.col("user").drop_nulls().n_unique().alias("distinct_accounts"),
        pl.col("host").drop_nulls().n_unique().alias("distinct_hosts"),
        ((pl.col("event_action") == "invalid_user") | pl.col("invalid_user").fill_null(False)).sum()
        .alias("invalid_users"),
        (login & _night(tz)).sum().alias("night_logins"),
        (login & (pl.col("auth_method") == "password")).sum().alias("password_logins"),
    )
    return out.with_columns(
        (pl.col("failures") / pl.col("distinct_accounts").clip(lower_bound=1)).alias("failures_per_account"),
        (~_private("entity")).cast(pl.Float64).alias("external"),
        pl.when(~_private("entity")).then(pl.col("successes")).otherwise(0).alias("external_logins"),
        _is_new(known, "entities", pl.col("entity")).alias("new_source"),
    )


def _firewall(lf: pl.LazyFrame, tz: str, known: dict[str, pl.Series] | None) -> pl.LazyFrame:
    lf = _with_window(FW_SOURCE_HOUR, lf, tz)
    out = lf.group_by("entity", "window_start", "window_end").agg(
        *_common(),
        pl.lit(None, dtype=pl.String).alias("system"),
        pl.col("host").drop_nulls().first().alias("host"),
        pl.col("dst_ip").drop_nulls().n_unique().alias("distinct_destinations"),
        pl.col("dst_port").drop_nulls().n_unique().alias("distinct_ports"),
        pl.col("action").is_in(DENY_ACTIONS).fill_null(False).mean().alias("deny_ratio"),
        pl.coalesce(pl.col("src_bytes"), pl.col("bytes")).sum().alias("bytes_out"),
        pl.col("dst_bytes").sum().alias("bytes_in"),
        pl.col("dst_ip").filter(~_private("dst_ip")).drop_nulls().n_unique().alias("external_destinations"),
    )
    return out.with_columns(
        pl.col("events").alias("sessions"),
        _private("entity").cast(pl.Float64).alias("internal_source"),
        _night(tz, "window_start").cast(pl.Float64).alias("night"),
        _is_new(known, "entities", pl.col("entity")).alias("new_source"),
    )


_F = Feature
_BASE = ("ts", "prefecture", "batch_id", "event_id")

WEB_SOURCE_HOUR = FeatureSet(
    "web_source_hour", "ip", "1h", "a source address on the websites in one hour",
    (*_BASE, "source", "src_ip", "url_path", "http_status", "bytes", "user_agent", "http_method", "url_domain",
     "file"),
    lambda: pl.col("source").is_in(WEB_SOURCES) & pl.col("src_ip").is_not_null(),
    (_F("requests", "requests", "count", True),
     _F("distinct_paths", "distinct paths", "count", True),
     _F("distinct_sites", "distinct sites", "count", True),
     _F("error_ratio", "share of error answers (4xx/5xx)", "ratio"),
     _F("not_found_ratio", "share of 404 answers", "ratio"),
     _F("bytes", "bytes sent to it", "bytes", True),
     _F("distinct_user_agents", "distinct User-Agents", "count", True),
     _F("admin_login_share", "share of admin/login paths", "ratio"),
     _F("static_share", "share of static files (css, js, images)", "ratio"),
     _F("post_share", "share of POST requests", "ratio"),
     _F("active_minutes", "minutes with requests", "minutes", True),
     _F("max_per_minute", "most requests in one minute", "count", True),
     _F("burstiness", "burstiness (variance/mean of requests per minute: 0 steady, 1 random)", "score", True),
     _F("night", "at night (00:00-06:00 local)", "flag"),
     _F("new_source", "address new to the baseline", "flag")),
    _web,
)

AUTH_ACCOUNT_DAY = FeatureSet(
    "auth_account_day", "account", "1d", "an account (user@host) on the login logs in one local day",
    (*_BASE, "event_category", "event_action", "outcome", "user", "host", "src_ip", "auth_method", "file"),
    lambda: (pl.col("event_category") == "authentication") & pl.col("user").is_not_null()
    & pl.col("event_action").is_in(AUTH_ACTIONS),
    (_F("failures", "failed logins", "count", True),
     _F("successes", "logins", "count", True),
     _F("distinct_sources", "distinct source addresses (an IPv6 source: its /64)", "count", True),
     _F("external_sources", "source addresses outside the private ranges (IPv6: /64s)", "count", True),
     _F("external_logins", "logins from outside the private ranges", "count", True),
     _F("night_logins", "logins at night (00:00-06:00 local)", "count", True),
     _F("password_logins", "logins with a password", "count", True),
     _F("new_sources", "logins from addresses (IPv6: /64s) this account never used in the baseline", "count",
        True),
     _F("sudo", "sudo commands", "count", True),
     _F("new_account", "account new to the baseline", "flag")),
    _auth_account,
)

AUTH_SOURCE_DAY = FeatureSet(
    "auth_source_day", "ip", "1d", "a source address on the login logs in one local day",
    (*_BASE, "event_category", "event_action", "outcome", "user", "host", "src_ip", "auth_method", "invalid_user",
     "file"),
    lambda: (pl.col("event_category") == "authentication") & pl.col("src_ip").is_not_null()
    & pl.col("event_action").is_in(AUTH_ACTIONS),
    (_F("failures", "failed logins", "count", True),
     _F("successes", "logins", "count", True),
     _F("distinct_accounts", "distinct accounts tried", "count", True),
     _F("distinct_hosts", "distinct hosts", "count", True),
     _F("invalid_users", "attempts on accounts that do not exist", "count", True),
     _F("failures_per_account", "failed logins per account", "count", True),
     _F("night_logins", "logins at night (00:00-06:00 local)", "count", True),
     _F("password_logins", "logins with a password", "count", True),
     _F("external", "address outside the private ranges", "flag"),
     _F("external_logins", "logins from this address outside the private ranges", "count", True),
     _F("new_source", "address new to the baseline", "flag")),
    _auth_source,
)

FW_SOURCE_HOUR = FeatureSet(
    "fw_source_hour", "ip", "1h", "a source address on the firewalls in one hour",
    (*_BASE, "event_category", "src_ip", "dst_ip", "dst_port", "action", "bytes", "src_bytes", "dst_bytes", "host",
     "file"),
    lambda: (pl.col("event_category") == "network") & pl.col("src_ip").is_not_null(),
    (_F("sessions", "sessions and denied packets", "count", True),
     _F("distinct_destinations", "distinct destination addresses", "count", True),
     _F("distinct_ports", "distinct destination ports", "count", True),
     _F("deny_ratio", "share denied", "ratio"),
     _F("bytes_out", "bytes sent", "bytes", True),
     _F("bytes_in", "bytes received", "bytes", True),
     _F("external_destinations", "destinations outside the private ranges", "count", True),
     _F("internal_source", "address inside the private ranges", "flag"),
     _F("night", "at night (00:00-06:00 local)", "flag"),
     _F("new_source", "address new to the baseline", "flag")),
    _firewall,
)

FEATURE_SETS: dict[str, FeatureSet] = {fs.name: fs for fs in (WEB_SOURCE_HOUR, AUTH_ACCOUNT_DAY, AUTH_SOURCE_DAY,
                                                              FW_SOURCE_HOUR)}


def needed_columns(sets: list[FeatureSet] | None = None) -> list[str]:
    """The event columns the feature sets read."""
    out: list[str] = []
    for fs in sets or FEATURE_SETS.values():
        out += [c for c in fs.columns if c not in out]
    return out
