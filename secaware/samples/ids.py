"""Suricata EVE records from the provincial egress sensor, tied together by `flow_id`.

The sensor sits on the plaintext leg behind the provincial SSL-offload cluster, so it sees HTTP to
each system's public address on port 80, which is why its addresses differ from the web logs'.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from secaware.samples.model import EveRecord, FwSession, Label, Request
from secaware.samples.topology import System

IFACE = "ens1f0"


def eve_time(ts: datetime) -> str:
    """Suricata's timestamp: microseconds and a `+0800` offset without a colon."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def dumps(rec: EveRecord) -> str:
    return json.dumps(rec.obj, ensure_ascii=False, separators=(",", ":"))


def _base(
    ts: datetime, flow_id: int, kind: str, src: str, sport: int, dst: str, dport: int, proto: str
) -> dict:
    return {
        "timestamp": eve_time(ts),
        "flow_id": flow_id,
        "in_iface": IFACE,
        "event_type": kind,
        "src_ip": src,
        "src_port": sport,
        "dest_ip": dst,
        "dest_port": dport,
        "proto": proto,
    }


def _flow(
    ts: datetime,
    start: datetime,
    flow_id: int,
    src: str,
    sport: int,
    dst: str,
    dport: int,
    proto: str,
    app: str | None,
    sizes: tuple[int, int, int, int],
    alerted: bool,
) -> dict:
    obj = _base(ts, flow_id, "flow", src, sport, dst, dport, proto)
    if app:
        obj["app_proto"] = app
    pts, ptc, bts, btc = sizes
    obj["flow"] = {
        "pkts_toserver": pts,
        "pkts_toclient": ptc,
        "bytes_toserver": bts,
        "bytes_toclient": btc,
        "start": eve_time(start),
        "end": eve_time(ts - timedelta(seconds=1)),
        "age": max(0, int((ts - start).total_seconds()) - 1),
        "state": "closed",
        "reason": "timeout",
        "alerted": alerted,
    }
    if proto == "TCP" and ptc == 0:
        obj["flow"]["state"] = "new"
        obj["tcp"] = {
            "tcp_flags": "02",
            "tcp_flags_ts": "02",
            "tcp_flags_tc": "00",
            "syn": True,
            "state": "syn_sent",
        }
    elif proto == "TCP":
        obj["tcp"] = {
            "tcp_flags": "1b",
            "tcp_flags_ts": "1b",
            "tcp_flags_tc": "1b",
            "syn": True,
            "fin": True,
            "psh": True,
            "ack": True,
            "state": "closed",
        }
    return obj


def http_events(
    req: Request,
    system: System,
    rng: random.Random,
    alert: tuple[int, str, str, int] | None = None,
    *,
    with_flow: bool = True,
    label: Label | None = None,
) -> list[EveRecord]:
    """http (+ alert) (+ flow) records for one request to `system`."""
    fid = rng.getrandbits(50)
    sport = rng.randint(1025, 65535)
    dst = system.public_ip
    http = {
        "hostname": system.domain,
        "url": req.target,
        "http_user_agent": req.ua,
        "http_content_type": "text/html",
        "http_method": req.method,
        "protocol": req.proto,
        "status": req.status,
        "length": req.size,
    }
    if req.referer != "-":
        http["http_refer"] = req.referer
    t = req.ts + timedelta(milliseconds=req.millis)
    out = []
    if alert:
        sid, sig, cat, sev = alert
        obj = _base(req.ts + timedelta(microseconds=300), fid, "alert", req.client, sport, dst, 80, "TCP")
        obj["tx_id"] = 0
        obj["alert"] = {
            "action": "allowed",
            "gid": 1,
            "signature_id": sid,
            "rev": rng.randint(2, 12),
            "signature": sig,
            "category": cat,
            "severity": sev,
        }
        obj["http"] = http
        obj["app_proto"] = "http"
        out.append(EveRecord(req.ts + timedelta(microseconds=300), obj, label))
    obj = _base(t, fid, "http", req.client, sport, dst, 80, "TCP")
    obj["tx_id"] = 0
    obj["http"] = http
    out.append(EveRecord(t, obj, label))
    if with_flow:
        end = t + timedelta(seconds=rng.randint(5, 65))
        sizes = (
            rng.randint(4, 9),
            rng.randint(4, 60),
            rng.randint(400, 1800),
            req.size + rng.randint(300, 700),
        )
        out.append(
            EveRecord(
                end,
                _flow(end, req.ts, fid, req.client, sport, dst, 80, "TCP", "http", sizes, alert is not None),
                label,
            )
        )
    return out


def session_events(
    s: FwSession,
    rng: random.Random,
    alert: tuple[int, str, str, int] | None = None,
    *,
    app: str | None = None,
    label: Label | None = None,
) -> list[EveRecord]:
    """flow (+ alert) records for a non-HTTP session the sensor saw."""
    fid = rng.getrandbits(50)
    out = []
    if alert:
        sid, sig, cat, sev = alert
        obj = _base(s.start, fid, "alert", s.src, s.sport, s.dst, s.dport, s.proto)
        obj["alert"] = {
            "action": "allowed",
            "gid": 1,
            "signature_id": sid,
            "rev": rng.randint(2, 12),
            "signature": sig,
            "category": cat,
            "severity": sev,
        }
        if app:
            obj["app_proto"] = app
        out.append(EveRecord(s.start, obj, label))
    end = s.end + timedelta(seconds=rng.randint(1, 30))
    sizes = (max(1, s.sent_pkts), s.rcvd_pkts, max(60, s.sent), s.rcvd)
    out.append(
        EveRecord(
            end,
            _flow(end, s.start, fid, s.src, s.sport, s.dst, s.dport, s.proto, app, sizes, alert is not None),
            label,
        )
    )
    return out


def normal_eve(
    system: System, requests: list[Request], rng: random.Random, share: float = 0.04
) -> list[EveRecord]:
    """A sample of ordinary requests, so the IDS file is not made only of attacks."""
    out: list[EveRecord] = []
    for req in requests:
        if (
            req.raw_request is None
            and req.label is None
            and not req.client.startswith("10.")
            and rng.random() < share
        ):
            out += http_events(req, system, rng)
    return out
