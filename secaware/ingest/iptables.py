"""Linux netfilter LOG / UFW kernel lines (source `iptables`).

The LOG target writes one line per packet, not per session: `IN=eth0 OUT= MAC=... SRC=... DST=...
LEN=... PROTO=TCP SPT=... DPT=...`, after a free-text prefix that the administrator chose
(`[UFW BLOCK] `, `IPTABLES:BLOCKED-CONN: `, `[netfilter-INPUT] `). The kernel itself never says
what happened to the packet: LOG only logs, and the verdict is taken by the rule after it. So the
action is read from the prefix's words (BLOCK/DENY -> deny, DROP -> drop, REJECT -> reject,
ALLOW/ACCEPT -> allow) and left null when the prefix does not say; the prefix itself is always
kept in `policy`, since it is the name the administrator gave the logging rule.

One anchored regex reads the whole line. `.*?` between the fixed keys absorbs what varies by
kernel and setup (MAC missing on outbound packets and on ppp/tun, PHYSIN/PHYSOUT on bridges, TC
and HOPLIMIT on IPv6), and the first `LEN=` is the IP packet length (UDP lines repeat `LEN=` for
the UDP length; ICMP lines have TYPE/CODE instead of ports).
"""

from __future__ import annotations

import polars as pl

from secaware.ingest._netfw import action_from_words, add_warning, blank_null, count, port, protocol
from secaware.ingest.syslog import MessageFormat

_PATTERN = (
    r"^(?:\[\s*\d+\.\d+\]\s?)?(?P<prefix>.*?)\s*\bIN=(?P<in>\S*) OUT=(?P<out>\S*) .*?"
    r"\bSRC=(?P<src>\S+) DST=(?P<dst>\S+) LEN=(?P<len>\d+) .*?"
    r"\bPROTO=(?P<proto>\S+)(?: SPT=(?P<spt>\d+) DPT=(?P<dpt>\d+))?(?: TYPE=(?P<type>\d+) CODE=(?P<code>\d+))?"
)

_msg = pl.col("message")


def match() -> pl.Expr:
    """Netfilter LOG lines, whoever forwarded them.

    The program is usually `kernel`, but relays and ulogd rewrite or drop the tag, while the
    `IN= OUT= ... SRC= ... PROTO=` layout is the kernel's own and is not found in other messages.
    """
    return (
        _msg.str.contains("IN=", literal=True)
        & _msg.str.contains(" OUT=", literal=True)
        & _msg.str.contains(" SRC=", literal=True)
        & _msg.str.contains(" PROTO=", literal=True)
    ).fill_null(False)


def parse(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the packet's addresses, ports, interfaces, protocol and the prefix's verdict."""
    g = _msg.str.extract_groups(_PATTERN)
    f = g.struct.field
    prefix = blank_null(f("prefix"))
    return frame.with_columns(
        blank_null(f("in")).alias("interface_in"),
        blank_null(f("out")).alias("interface_out"),
        f("src").alias("src_ip"),
        f("dst").alias("dst_ip"),
        port(f("spt")).alias("src_port"),
        port(f("dpt")).alias("dst_port"),
        protocol(f("proto")).alias("protocol"),
        count(f("len")).alias("bytes"),
        prefix.alias("policy"),
        action_from_words(prefix).alias("action"),
        pl.lit("network").alias("event_category"),
        pl.lit("packet").alias("event_action"),
        add_warning(f("src").is_null(), "iptables: incomplete netfilter fields"),
    )


FORMAT = MessageFormat(
    "iptables",
    "Linux netfilter LOG and UFW packet lines (kernel: IN= OUT= SRC= DST= PROTO=)",
    match,
    parse,
)
FORMATS: tuple[MessageFormat, ...] = (FORMAT,)
