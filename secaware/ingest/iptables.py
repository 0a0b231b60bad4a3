"""Linux netfilter LOG / UFW kernel lines (source `iptables`).

The LOG target writes one line per packet, not per session: `IN=eth0 OUT= MAC=... SRC=... DST=...
LEN=... PROTO=TCP SPT=... DPT=...`, after a free-text prefix that the administrator chose
(`[UFW BLOCK] `, `IPTABLES:BLOCKED-CONN: `, `[netfilter-INPUT] `). The kernel itself never says
what happened to the packet: LOG only logs, and the verdict is taken by the rule after it. So the
action is read from the prefix's words (BLOCK/DENY -> deny, DROP -> drop, REJECT -> reject,
ALLOW/ACCEPT -> allow) and left null when the prefix does not say; the prefix itself is always
kept in `policy`, since it is the name the administrator gave the logging rule.

The line is read in three short pieces (prefix and interfaces, addresses, protocol and ports), so
what varies between them by kernel and setup (MAC missing on outbound packets and on ppp/tun,
PHYSIN/PHYSOUT on bridges, TC and HOPLIMIT on IPv6) does not matter. The first `LEN=` is the IP
packet length (UDP lines repeat `LEN=` for the UDP length); ICMP lines have TYPE/CODE instead of
ports, so their ports stay null.
"""

from __future__ import annotations

import polars as pl

from secaware.ingest._netfw import action_from_words, add_warning, blank_null, count, port, protocol
from secaware.ingest.syslog import MessageFormat

# Three short anchored captures rather than one spanning the line: the regex engine's capture pass
# costs per character covered, and `.*?` between the parts would make it cover the whole line.
_START = r"^(?:\[ *\d+\.\d+\] ?)?(?P<prefix>[^=]*?) ?IN=(?P<in>[^ ]*) OUT=(?P<out>[^ ]*)"
_ADDR = r" SRC=(?P<src>[^ ]+) DST=(?P<dst>[^ ]+) LEN=(?P<len>\d+)"
_PROTO = r" PROTO=(?P<proto>[^ ]+)(?: SPT=(?P<spt>\d+) DPT=(?P<dpt>\d+))?"

_msg = pl.col("message")


#: Programs that write netfilter LOG lines: the kernel (through klogd, journald or rsyslog's imklog)
#: and ulogd. A relay that drops the tag leaves none, which is trusted too.
WRITERS = ("kernel", "klogd", "ulogd", "ulogd2")


def _layout() -> pl.Expr:
    return (
        _msg.str.contains("IN=", literal=True)
        & _msg.str.contains(" OUT=", literal=True)
        & _msg.str.contains(" SRC=", literal=True)
        & _msg.str.contains(" PROTO=", literal=True)
    ).fill_null(False)


def _from_writer() -> pl.Expr:
    return pl.col("program").is_null() | pl.col("program").str.to_lowercase().is_in(WRITERS)


def match() -> pl.Expr:
    """Netfilter LOG lines: the kernel's `IN= OUT= ... SRC= ... PROTO=` layout, from the kernel or ulogd.

    The layout alone is not enough: an application that logs what a user typed (`login failed for
    user [UFW ALLOW] IN=eth0 OUT= SRC=10.1.1.1 ... DPT=3389`) would write a packet the firewall
    never saw, with addresses and ports of the user's choosing, into the firewall evidence. Such a
    line stays a syslog event with a warning naming its program (`impostor`); a collector whose
    relay rewrites the tag can be configured as `format = "iptables"`.
    """
    return _layout() & _from_writer()


def impostor() -> pl.Expr:
    """The netfilter layout in a message of another program."""
    return _layout() & ~_from_writer().fill_null(False)


def parse(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the packet's addresses, ports, interfaces, protocol and the prefix's verdict."""
    # Materialized once: every field below reads the struct instead of re-running the regex.
    frame = frame.with_columns(
        _msg.str.extract_groups(_START).alias("_g1"),
        _msg.str.extract_groups(_ADDR).alias("_g2"),
        _msg.str.extract_groups(_PROTO).alias("_g3"),
    )

    def f(name: str) -> pl.Expr:
        group = "_g1" if name in ("prefix", "in", "out") else "_g2" if name in ("src", "dst", "len") else "_g3"
        return pl.col(group).struct.field(name)

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
    impostor,
    "netfilter layout in a message of program {}: not read as a packet (only kernel and ulogd lines are; "
    "set the collector's format to iptables if a relay renamed the kernel)",
)
FORMATS: tuple[MessageFormat, ...] = (FORMAT,)
