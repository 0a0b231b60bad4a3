"""Render firewall sessions in each vendor's own syslog dialect.

Vendors disagree on nearly everything (header clock and zone, NAT view, units, language), and the
samples keep those differences because normalising them is exactly what ingest has to prove.
"""

from __future__ import annotations

from datetime import UTC, datetime

from secaware.samples.clock import bsd_stamp, utc
from secaware.samples.model import FwSession
from secaware.samples.topology import Site

_PROTO_NUM = {"TCP": 6, "UDP": 17, "ICMP": 1}
_SANGFOR_APP = {
    "HTTP": ("网站浏览", "HTTP"),
    "HTTPS": ("网站浏览", "HTTPS"),
    "SSH": ("远程登录", "SSH"),
    "TELNET": ("远程登录", "Telnet"),
    "RDP": ("远程登录", "RDP"),
    "DNS": ("网络协议", "DNS"),
    "NTP": ("网络协议", "NTP"),
}
_H3C_APP = {
    "HTTP": "http",
    "HTTPS": "https",
    "SSH": "ssh",
    "TELNET": "telnet",
    "DNS": "dns",
    "NTP": "ntp",
    "RDP": "rdp",
}


def _private(ip: str) -> bool:
    return ip.startswith("10.")


def _huawei(s: FwSession, site: Site) -> str:
    ts = s.end if s.action == "permit" else s.start
    style = site.fw_style
    if style == "iso":
        head = f"{ts:%Y-%m-%d %H:%M:%S} {site.fw_device} "
    elif style == "bsd":
        head = f"{ts:%b} {ts.day:>2} {ts:%Y %H:%M:%S} {site.fw_device} "
    elif style == "slash_utc":
        head = f"{utc(ts):%Y/%m/%d %H:%M:%S} {site.fw_device} "
    else:
        head = f"{site.fw_device} "
    if s.action == "permit":
        return (
            f"{head}%%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4,Protocol={s.proto.lower()},SourceIP={s.src},"
            f"DestinationIP={s.dst},SourcePort={s.sport},DestinationPort={s.dport},"
            f"BeginTime={int(s.start.timestamp())},EndTime={int(s.end.timestamp())},SendPkts={s.sent_pkts},"
            f"SendBytes={s.sent},RcvPkts={s.rcvd_pkts},RcvBytes={s.rcvd},SourceVpnID=0,DestinationVpnID=0,"
            f"PolicyName={s.policy}."
        )
    src_zone = "trust" if _private(s.src) else "untrust"
    dst_zone = "dmz" if _private(s.dst) else "untrust"
    return (
        f"{head}%%01POLICY/6/POLICYDENY(l):vsys=public, protocol={_PROTO_NUM[s.proto]}, source-ip={s.src}, "
        f"source-port={s.sport}, destination-ip={s.dst}, destination-port={s.dport}, "
        f"time={ts:%Y/%m/%d %H:%M:%S}, source-zone={src_zone}, destination-zone={dst_zone}, "
        f"application-name=, rule-name={s.policy}."
    )


def _h3c_time(ts: datetime) -> str:
    t = ts.astimezone(UTC)
    return f"{t:%m%d%Y%H%M%S}"


def _h3c(s: FwSession, site: Site, nat: dict[str, str]) -> str:
    ts = s.end if s.action == "permit" else s.start
    pri = "<6> " if site.fw_style == "h3c_spaced" else "<190>"
    head = f"{pri}{ts:%b %d %H:%M:%S %Y} {site.fw_device} "
    app = _H3C_APP.get(s.app, f"general_{s.proto.lower()}")
    inbound = _private(s.dst) and not _private(s.src)
    dst_pub = nat.get(s.dst, s.dst) if inbound else s.dst
    if s.action != "permit":
        return (
            f"{head}%%10FILTER/6/FILTER_ZONE_IPV4_EXECUTION: SrcZoneName(1025)=Untrust;DstZoneName(1035)=DMZ;"
            f"Type(1067)=ACL;SecurityPolicy(1072)=Untrust-DMZ-Deny;RuleID(1078)=65535;Protocol(1001)={s.proto};"
            f"Application(1002)={app};SrcIPAddr(1003)={s.src};SrcPort(1004)={s.sport};"
            f"DstIPAddr(1007)={dst_pub};DstPort(1008)={s.dport};MatchCount(1069)=1;Event(1048)=Deny;"
        )
    outbound = _private(s.src) and not _private(s.dst)
    nat_src = f"61.178.{100 + site.index}.2" if outbound else s.src
    nat_sport = (s.sport * 7 + 1024) % 64511 + 1024 if outbound else s.sport
    event = "(1)Normal over" if s.proto == "TCP" else "(2)Aged for timeout"
    return (
        f"{head}%%10session/6/SESSION_IPV4_FLOW: Protocol(1001)={s.proto};Application(1002)={app};"
        f"SrcIPAddr(1003)={s.src};SrcPort(1004)={s.sport};NatSrcIPAddr(1005)={nat_src};"
        f"NatSrcPort(1006)={nat_sport};DstIPAddr(1007)={dst_pub};DstPort(1008)={s.dport};"
        f"NatDstIPAddr(1009)={s.dst};NatDstPort(1010)={s.dport};InitPktCount(1044)={s.sent_pkts};"
        f"InitByteCount(1046)={s.sent};RplyPktCount(1045)={s.rcvd_pkts};RplyByteCount(1047)={s.rcvd};"
        f"RcvVPNInstance(1042)=;SndVPNInstance(1043)=;RcvDSLiteTunnelPeer(1040)=;SndDSLiteTunnelPeer(1041)=;"
        f"BeginTime_e(1013)={_h3c_time(s.start)};EndTime_e(1014)={_h3c_time(s.end)};Event(1048)={event};"
    )


def _hillstone(s: FwSession, site: Site) -> str:
    ts = s.end if s.action == "permit" else s.start
    head = f"<190>{bsd_stamp(ts)} {site.fw_device}(root) "
    flow = f"SESSION: {s.src}:{s.sport}->{s.dst}:{s.dport}({s.proto})"
    if s.action != "permit":
        return (
            f"{head}4424362f Traffic@FLOW: {flow}, interface ethernet0/1, vr trust-vr, policy 16, user -@-, "
            "host -, mac 0000.0000.0000, policy deny"
        )
    app = "TCP-ANY" if s.app not in ("HTTP", "HTTPS", "SSH", "DNS", "NTP", "TELNET", "RDP") else s.app
    reason = "TCP FIN" if s.proto == "TCP" else "Ageout"
    policy = {"DMZ Web Publish": 2, "Mgmt Access": 5, "Server DNS NTP": 7, "Server Update": 8}.get(
        s.policy, 9
    )
    return (
        f"{head}44243624 Traffic@FLOW: {flow}, application {app}, interface ethernet0/1, vr trust-vr, "
        f"policy {policy}, user -@-, host -, send packets {s.sent_pkts},send bytes {s.sent},"
        f"receive packets {s.rcvd_pkts},receive bytes {s.rcvd},start time {s.start:%Y-%m-%d %H:%M:%S},"
        f"close time {s.end:%Y-%m-%d %H:%M:%S},session end,{reason}"
    )


def _sangfor(s: FwSession) -> list[str]:
    head = f"<134>{bsd_stamp(s.start)} localhost fwlog: "
    kind, name = _SANGFOR_APP.get(s.app, ("Other", "any"))
    action = "被记录" if s.action == "permit" else "拒绝"
    lines = [
        f"{head}日志类型:服务控制或应用控制, 用户:(null), 源IP:{s.src}, 源端口:{s.sport}, 目的IP:{s.dst}, "
        f"目的端口:{s.dport}, 应用类型:{kind}, 应用名称:{name}, 系统动作:{action}"
    ]
    if s.action == "permit" and s.sent + s.rcvd >= 512_000:
        up, down = s.sent // 1024, s.rcvd // 1024
        host = s.src if _private(s.src) else s.dst
        lines.append(
            f"<134>{bsd_stamp(s.end)} localhost fwlog: 日志类型:流量审计, 应用类型:{name}, "
            f"用户名/主机:{host}, 上行流量(KB):{up}, 下行流量(KB):{down}, 总流量(KB):{up + down}"
        )
    return lines


def format_session(s: FwSession, site: Site, nat: dict[str, str]) -> list[tuple[datetime, str]]:
    """The line(s) `site`'s firewall writes for `s`, each with the time it is written."""
    when = s.end if s.action == "permit" else s.start
    if site.fw_vendor == "huawei-usg":
        return [(when, _huawei(s, site))]
    if site.fw_vendor == "h3c":
        return [(when, _h3c(s, site, nat))]
    if site.fw_vendor == "hillstone":
        return [(when, _hillstone(s, site))]
    lines = _sangfor(s)
    return [(s.start, lines[0])] + [(s.end, line) for line in lines[1:]]
