"""What every check reads: the period's events attributed to systems, verdict names, and small helpers.

Events are attributed once per run on their distinct (file, host, url_domain, dst_ip) keys, which are
far fewer than the events, and each check then scans only the columns and rows it needs (a lazy
Delta scan filtered by the period, joined to that key map), so a check costs one pass over its slice.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import polars as pl

from secaware.addresses import in_network, ipv4_number
from secaware.inventory import Inventory, Network, System, attribute
from secaware.schema import ALERTS, EVENTS
from secaware.store import Store

NONCOMPLIANT = "不符合"
PARTIAL = "部分符合"
INSUFFICIENT = "证据不足"
NOT_APPLICABLE = "不适用"
VERDICTS = (NONCOMPLIANT, PARTIAL, INSUFFICIENT, NOT_APPLICABLE)
#: What every 部分符合 says: the logs agree, a person still has to look at the configuration.
MANUAL = "需人工核查"

_KEYS = ("file", "host", "url_domain", "dst_ip")
WEB_SOURCES = ("combined", "common", "iis")
FIREWALL_SOURCES = ("huawei_usg", "h3c", "hillstone", "sangfor", "iptables")
HOST_SOURCES = ("syslog", "sshd", "auth")
_PRIVATE_V4 = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8"))
_EXAMPLES = 5


@dataclass
class Finding:
    """One verdict on one item of one system."""

    system: str
    clause: str
    verdict: str
    reason: str
    evidence: str = ""
    examples: list[str] = field(default_factory=list)
    to_verify: str = ""
    high_risk: bool = False


class Context:
    """The store, the inventory and the period, with attributed event scans for the checks."""

    def __init__(self, store: Store, inventory: Inventory, start: dt.datetime, end: dt.datetime) -> None:
        self.store = store
        self.inventory = inventory
        self.systems: list[System] = list(inventory.systems)
        self.by_id = {s.id: s for s in self.systems}
        self.start, self.end = start, end

    # -- events ---------------------------------------------------------------------------------------------------

    def in_period(self) -> pl.Expr:
        return (pl.col("ts") >= self.start) & (pl.col("ts") < self.end)

    @cached_property
    def keymap(self) -> pl.DataFrame:
        """Distinct attribution keys of the events up to the period's end -> `system` (any evidence) and `own`
        (the system's own log files and hosts, not traffic that merely went to its addresses), with the oldest
        record of each key (`oldest`, its `line_no`) for the retention check."""
        keys = (self.store.scan(EVENTS).filter(pl.col("ts") < self.end).group_by(_KEYS)
                .agg(pl.col("ts").min().alias("oldest"), pl.col("line_no").sort_by("ts").first()).collect())
        if keys.height == 0:
            return keys.with_columns(pl.lit(None, dtype=pl.String).alias("system"),
                                     pl.lit(None, dtype=pl.String).alias("own"))
        by_all = attribute(keys, self.inventory)
        pairs = keys.select("file", "host").unique()
        by_own = attribute(pairs.with_columns(pl.lit(None, dtype=pl.String).alias("url_domain"),
                                              pl.lit(None, dtype=pl.String).alias("dst_ip")), self.inventory)
        return by_all.join(by_own.select("file", "host", pl.col("system").alias("own")), on=["file", "host"],
                           how="left", nulls_equal=True)

    def events(self, columns: Iterable[str], where: pl.Expr | None = None, *, own: bool = False) -> pl.LazyFrame:
        """The period's events that belong to a system, with `columns` and `system`.

        own=True keeps only the system's own logs (its log folders and host names): what its hosts
        wrote, as opposed to firewall or IDS records of traffic to its addresses.
        """
        cols = list(dict.fromkeys(columns))
        lf = self.store.scan(EVENTS).filter(self.in_period())
        if where is not None:
            lf = lf.filter(where)
        lf = lf.select(list(dict.fromkeys([*cols, *_KEYS])))
        keymap = self.keymap.lazy().select(*_KEYS, pl.col("own" if own else "system").alias("system")) \
            .filter(pl.col("system").is_not_null())
        return lf.join(keymap, on=list(_KEYS), how="inner", nulls_equal=True).select(*cols, "system")

    def all_events(self, columns: Iterable[str], where: pl.Expr | None = None) -> pl.LazyFrame:
        """The period's events whether or not a system claims them (a border device's whole log)."""
        lf = self.store.scan(EVENTS).filter(self.in_period())
        if where is not None:
            lf = lf.filter(where)
        return lf.select(list(dict.fromkeys(columns)))

    def alerts(self) -> pl.DataFrame:
        """The period's alerts (if detect has run) with their `system`; authorized scanners' alerts left out."""
        alerts = self.store.scan(ALERTS).filter(self.in_period()).collect()
        if alerts.height == 0:
            return alerts.with_columns(pl.lit(None, dtype=pl.String).alias("system"))
        alerts = attribute(alerts, self.inventory)
        return alerts.filter(~pl.col("suppressed").fill_null(False) & ~self.is_scanner("src_ip"))

    # -- addresses ------------------------------------------------------------------------------------------------

    @cached_property
    def scanners(self) -> tuple[Network, ...]:
        """Authorized scanners of any system: a scanner authorized for one system scans them all."""
        return tuple({n for s in self.systems for n in s.scanners})

    def is_scanner(self, column: str) -> pl.Expr:
        return in_networks(pl.col(column), self.scanners)


def in_networks(expr: pl.Expr, networks: Sequence[Network]) -> pl.Expr:
    """The address is inside one of the networks. Single addresses compare as text (ingest stores each
    address in one written form), which stays cheap when the optimizer pushes the test down into the
    scan; IPv6 ranges compare the address's digits (addresses.in_network)."""
    singles = [str(n.network_address) for n in networks if n.num_addresses == 1]
    ranges = [n for n in networks if n.num_addresses > 1 and n.version == 4]
    out = expr.is_in(singles) if singles else pl.lit(False)
    if ranges:
        value = ipv4_number(expr)
        for net in ranges:
            out = out | value.is_between(int(net.network_address), int(net.broadcast_address))
    for net in (n for n in networks if n.num_addresses > 1 and n.version == 6):
        out = out | in_network(expr, net)
    return out.fill_null(False)


def is_public(expr: pl.Expr) -> pl.Expr:
    """A routable Internet address: IPv4 outside private, shared, loopback and link-local ranges, or global IPv6."""
    text = expr.cast(pl.String).str.to_lowercase()
    v4 = ipv4_number(expr).is_not_null() & ~in_networks(expr, _PRIVATE_V4)
    v6 = text.str.contains(":") & ~text.str.contains(r"^(?:fc|fd|fe80|::1$|::ffff:(?:10|127|192\.168)\.)")
    return (v4 | v6).fill_null(False)


def address_is_public(value: str | None) -> bool:
    try:
        return value is not None and ipaddress.ip_address(value).is_global
    except ValueError:
        return False


def address_in(value: str | None, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in networks)


def firewall_allowed() -> pl.Expr:
    """A firewall let the session through. Sangfor `系统动作:被记录` (recorded) sessions carry no action."""
    return (pl.col("action").is_in(["allow", "accept", "permit", "pass"])
            | (pl.col("action").is_null() & (pl.col("event_action") == "app_control"))).fill_null(False)


def firewall_denied() -> pl.Expr:
    return pl.col("action").is_in(["deny", "drop", "reject", "block"]).fill_null(False)


def service_port() -> pl.Expr:
    """The port the session reached: after destination NAT when the firewall logs it."""
    return pl.coalesce("nat_dst_port", "dst_port")


# -- wording --------------------------------------------------------------------------------------------------------

def when(ts: Any) -> str:
    if ts is None:
        return "?"
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(ts, dt.datetime) else str(ts)


def examples(rows: pl.DataFrame, n: int = _EXAMPLES) -> list[str]:
    """file:line of the first n rows (by time) that have both."""
    if rows.height == 0:
        return []
    picked = rows.filter(pl.col("file").is_not_null()).sort("ts", nulls_last=True).head(n)
    return [f"{f}:{ln}" for f, ln in picked.select("file", "line_no").iter_rows()]


def short(text: Any, limit: int = 160) -> str:
    s = "" if text is None else str(text).replace("\n", " ").strip()
    return s if len(s) <= limit else s[:limit - 1] + "…"


def listing(values: Iterable[Any], limit: int = 5) -> str:
    """'a, b, c 等 12 个' — a few values and how many there are."""
    values = [str(v) for v in values if v is not None]
    shown = "、".join(values[:limit])
    return shown if len(values) <= limit else f"{shown} 等 {len(values)} 个"
