"""Ordinary border-firewall traffic of one prefecture: web publishing, server egress, admin, noise.

The constant trickle of single denied packets from the internet is kept because every real border
firewall shows it; a port-scan detector must not fire on it.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from secaware.samples.clock import FLAT_WEIGHTS, HOUR_WEIGHTS, pick_time
from secaware.samples.model import FwSession
from secaware.samples.topology import Site
from secaware.samples.web import public_ip

DNS = "202.100.64.68"
NTP = "203.107.6.88"
MIRROR = "101.37.183.171"
NOISE_PORTS = (
    (23, "TELNET"),
    (445, "SMB"),
    (3389, "RDP"),
    (1433, "MSSQL"),
    (6379, "REDIS"),
    (22, "SSH"),
    (8080, "HTTP-ALT"),
    (5900, "VNC"),
)
NOISE_SOURCES = (
    "45.148.10",
    "193.163.125",
    "167.94.138",
    "162.142.125",
    "80.82.77",
    "89.248.165",
    "185.242.226",
)


def normal_sessions(site: Site, day: date, rng: random.Random, scale: float) -> list[FwSession]:
    """One day of sessions through `site`'s border firewall."""
    out: list[FwSession] = []
    servers = [(sy, h) for sy in site.systems for h in sy.hosts]
    for _ in range(round(70 * scale * rng.uniform(0.9, 1.1))):
        sy, h = rng.choice(servers)
        t = pick_time(rng, day, HOUR_WEIGHTS)
        dur = rng.uniform(0.5, 90)
        https = rng.random() < 0.85
        out.append(
            FwSession(
                t,
                t + timedelta(seconds=dur),
                "TCP",
                public_ip(rng),
                rng.randint(1025, 65535),
                h.ip,
                443 if https else 80,
                "HTTPS" if https else "HTTP",
                sent=rng.randint(700, 6_000),
                rcvd=rng.randint(4_000, 420_000),
                sent_pkts=rng.randint(6, 40),
                rcvd_pkts=rng.randint(8, 320),
                policy="DMZ Web Publish",
            )
        )
    for sy, h in servers:
        for _ in range(round(rng.randint(3, 5) * scale)):
            t = pick_time(rng, day, FLAT_WEIGHTS)
            out.append(
                FwSession(
                    t,
                    t + timedelta(seconds=rng.uniform(0.01, 0.2)),
                    "UDP",
                    h.ip,
                    rng.randint(32768, 60999),
                    DNS,
                    53,
                    "DNS",
                    sent=rng.randint(60, 90),
                    rcvd=rng.randint(90, 400),
                    sent_pkts=1,
                    rcvd_pkts=1,
                    policy="Server DNS NTP",
                )
            )
        t = pick_time(rng, day, FLAT_WEIGHTS)
        out.append(
            FwSession(
                t,
                t + timedelta(seconds=0.05),
                "UDP",
                h.ip,
                123,
                NTP,
                123,
                "NTP",
                sent=76,
                rcvd=76,
                sent_pkts=1,
                rcvd_pkts=1,
                policy="Server DNS NTP",
            )
        )
        if sy.os != "windows" and rng.random() < 0.5:
            t = pick_time(rng, day, FLAT_WEIGHTS)
            out.append(
                FwSession(
                    t,
                    t + timedelta(seconds=rng.uniform(3, 40)),
                    "TCP",
                    h.ip,
                    rng.randint(32768, 60999),
                    MIRROR,
                    443,
                    "HTTPS",
                    sent=rng.randint(3_000, 20_000),
                    rcvd=rng.randint(200_000, 9_000_000),
                    sent_pkts=rng.randint(20, 200),
                    rcvd_pkts=rng.randint(200, 7_000),
                    policy="Server Update",
                )
            )
        t = pick_time(rng, day, (0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 6, 5, 1, 1, 5, 6, 5, 3, 1, 0, 0, 0, 0, 0))
        port, app = (3389, "RDP") if sy.os == "windows" else (22, "SSH")
        out.append(
            FwSession(
                t,
                t + timedelta(seconds=rng.uniform(60, 2400)),
                "TCP",
                f"10.{site.index}.250.10",
                rng.randint(32768, 60999),
                h.ip,
                port,
                app,
                sent=rng.randint(8_000, 90_000),
                rcvd=rng.randint(20_000, 900_000),
                sent_pkts=rng.randint(80, 900),
                rcvd_pkts=rng.randint(80, 1200),
                policy="Mgmt Access",
            )
        )
    for _ in range(round(14 * scale)):
        t = pick_time(rng, day, FLAT_WEIGHTS)
        port, app = rng.choice(NOISE_PORTS)
        sy, h = rng.choice(servers)
        out.append(
            FwSession(
                t,
                t,
                "TCP",
                f"{rng.choice(NOISE_SOURCES)}.{rng.randint(1, 254)}",
                rng.randint(1025, 65535),
                h.ip,
                port,
                app,
                action="deny",
                sent=44 if port != 23 else 60,
                sent_pkts=1,
                policy="default",
            )
        )
    return out
