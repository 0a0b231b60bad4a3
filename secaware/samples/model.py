"""Neutral records that every generator emits and every formatter consumes.

Scenarios and normal traffic produce the same records, so a planted attack is written by the very
same formatter as the background around it and cannot be told apart by layout alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Label:
    """Why a line was planted; `detail` starts with `src=<ip>` when an attacker address is known."""

    scenario: str
    detail: str


@dataclass
class Request:
    """One HTTP request as a web server sees it (time is the request's start, aware)."""

    ts: datetime
    client: str
    method: str
    target: str
    status: int
    size: int
    ua: str = "-"
    referer: str = "-"
    proto: str = "HTTP/1.1"
    xff: str = "-"
    user: str = "-"
    millis: int = 20
    raw_request: str | None = None
    label: Label | None = None


@dataclass
class SyslogMsg:
    """One syslog message from a host; the writer chooses the header style of that host."""

    ts: datetime
    host: str
    program: str
    pid: int | None
    message: str
    label: Label | None = None


@dataclass
class FwSession:
    """A firewall session (permitted, logged at its end) or a denied packet (logged at `start`)."""

    start: datetime
    end: datetime
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    app: str
    action: str = "permit"
    sent: int = 0
    rcvd: int = 0
    sent_pkts: int = 0
    rcvd_pkts: int = 0
    policy: str = "default"
    label: Label | None = None


@dataclass
class EveRecord:
    """One Suricata EVE object; `obj` is serialised in insertion order."""

    ts: datetime
    obj: dict
    label: Label | None = None


@dataclass(frozen=True)
class Behaviour:
    """A planted behaviour that spans many lines (brute force, scan, exfiltration ...)."""

    entity_type: str
    entity: str
    start: datetime
    end: datetime
    scenario: str
    detail: str


@dataclass
class Bundle:
    """Everything generated before it is written: per system, per prefecture and province-wide."""

    web: dict[str, list[Request]] = field(default_factory=dict)
    auth: dict[str, list[SyslogMsg]] = field(default_factory=dict)
    kern: dict[str, list[SyslogMsg]] = field(default_factory=dict)
    fw: dict[str, list[FwSession]] = field(default_factory=dict)
    eve: list[EveRecord] = field(default_factory=list)
    behaviours: list[Behaviour] = field(default_factory=list)
