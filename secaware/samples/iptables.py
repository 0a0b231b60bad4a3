"""Host netfilter lines (`[UFW BLOCK]`) as the kernel logs them on Ubuntu hosts.

Only the message is built here; the syslog header comes from the host's style like any other line.
"""

from __future__ import annotations

import random
from datetime import date, datetime

from secaware.samples.clock import at, pick_time
from secaware.samples.model import Label, SyslogMsg
from secaware.samples.topology import Host, Site, System

_BOOT = at(date(2026, 10, 2), 4, 12, 33.0)


def _mac(ip: str) -> str:
    last = [int(x) for x in ip.split(".")[1:]]
    return "00:16:3e:{:02x}:{:02x}:{:02x}".format(*last)


def ufw_block(
    host: Host,
    ts: datetime,
    src: str,
    proto: str,
    sport: int,
    dport: int,
    rng: random.Random,
    *,
    gw_mac: str = "3c:61:04:71:0f:98",
    label: Label | None = None,
) -> SyslogMsg:
    """One `[UFW BLOCK]` kernel line for an inbound packet to `host`."""
    uptime = (ts - _BOOT).total_seconds()
    mac = f"{_mac(host.ip)}:{gw_mac}:08:00"
    ttl = rng.choice((46, 50, 52, 113, 116, 241)) if not src.startswith("10.") else 64
    head = (
        f"[{uptime:12.6f}] [UFW BLOCK] IN=eth0 OUT= MAC={mac} SRC={src} DST={host.ip} "
        f"LEN={44 if proto == 'TCP' else 78} TOS=0x00 PREC=0x00 TTL={ttl} ID={rng.randint(1, 65535)}"
    )
    if proto == "TCP":
        msg = (
            f"{head} PROTO=TCP SPT={sport} DPT={dport} WINDOW={rng.choice((1024, 65535, 29200))} "
            "RES=0x00 SYN URGP=0"
        )
    else:
        msg = f"{head} PROTO=UDP SPT={sport} DPT={dport} LEN=58"
    return SyslogMsg(ts, host.name, "kernel", None, msg, label)


def normal_kern(site: Site, system: System, day: date, rng: random.Random, scale: float) -> list[SyslogMsg]:
    """Everyday blocks on a Ubuntu host: a monitoring probe to a closed port and LAN broadcasts."""
    out = []
    for host in system.hosts:
        for _ in range(round(rng.randint(6, 12) * scale)):
            t = pick_time(rng, day)
            if rng.random() < 0.5:
                out.append(
                    ufw_block(host, t, f"10.{site.index}.250.5", "TCP", rng.randint(40000, 60000), 10050, rng)
                )
            else:
                out.append(ufw_block(host, t, f"10.{site.index}.1.1", "UDP", 137, 137, rng))
    return out
