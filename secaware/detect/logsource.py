"""Which events a rule is written for: its Sigma logsource as a condition on where an event came from.

A Sigma rule names the log it describes (`category: webserver`, `product: linux, service: sshd`),
and its detection only makes sense there: a web rule's keyword has no business matching the same
word in an sshd line, and a firewall rule's "inbound to port 3389 allowed" means nothing on an
access log. Engines built for speed (Hayabusa's channels, Elastic's index patterns) select rules
by log first; so do we, which also means each rule reads only the rows of its log.

The origin of an event is recorded by ingest in two columns: `event_category` (web, network,
authentication, intrusion_detection, dns, host) and `source` (the format: combined, iis, sshd,
auth, huawei_usg...). A logsource we know becomes a condition on them; one we do not know (a
product we do not parse, a custom category) constrains nothing, so a user's own rule is never
silently narrowed. A row whose origin is unknown (no category or no source, e.g. a frame built by
hand) is seen by every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

#: Sigma category -> event_category values of the events it covers.
CATEGORIES: dict[str, frozenset[str]] = {
    "webserver": frozenset({"web"}),
    "proxy": frozenset({"web"}),
    "firewall": frozenset({"network"}),
    "dns": frozenset({"dns"}),
}
#: Formats (the `source` column) of Linux hosts' logs: sshd and PAM/sudo messages, other syslog, iptables.
LINUX_SOURCES = frozenset({"syslog", "sshd", "auth", "iptables"})
#: A Linux rule's service (sshd, auth, cron...) does not narrow its scope: a line our parsers do not
#: recognise as sshd or PAM (`sshd[..]: error: kex_exchange_identification`, `in.rlogind[..]:
#: connect from`) is still kept, as `syslog`, and is what such rules are often about.


@dataclass(frozen=True)
class Scope:
    """Events whose event_category is one of `categories` and whose source is one of `sources`
    (None: any); a row where the column is null is in every scope."""

    categories: frozenset[str] | None = None
    sources: frozenset[str] | None = None

    def expr(self) -> pl.Expr:
        """True on the rows a rule of this scope is evaluated on."""
        parts = [pl.lit(True)]
        for column, values in (("event_category", self.categories), ("source", self.sources)):
            if values is not None:
                parts.append(pl.col(column).is_null() | pl.col(column).is_in(sorted(values)))
        return pl.all_horizontal(parts)

    def describe(self) -> str:
        said = [f"{name} in {', '.join(sorted(values))}" for name, values in
                (("event_category", self.categories), ("source", self.sources)) if values is not None]
        return " and ".join(said) or "every event"


#: Columns a scope reads.
SCOPE_COLUMNS = ("event_category", "source")


def scope_of(logsource: Any) -> Scope | None:
    """The events a rule with this pySigma logsource applies to; None when it constrains nothing we know."""
    category = (getattr(logsource, "category", None) or "").lower() or None
    product = (getattr(logsource, "product", None) or "").lower() or None
    categories = CATEGORIES.get(category) if category else None
    sources = LINUX_SOURCES if product == "linux" else None
    if categories is None and sources is None:
        return None
    return Scope(categories, sources)


__all__ = ["SCOPE_COLUMNS", "Scope", "scope_of"]
