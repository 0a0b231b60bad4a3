"""Firewall messages inside syslog: iptables/UFW, Huawei USG, H3C, Hillstone and Sangfor.

Expected values are read off the lines by hand. The example lines are the real ones from
log-formats.md; the iptables logs are real public logs read in place from ../shared/datasets.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from secaware.ingest import ingest
from secaware.ingest._common import FileContext
from secaware.ingest.formats import FORMATS
from secaware.ingest.reader import LINES_SCHEMA
from secaware.ingest.syslog import parse

UTC = dt.UTC
SHARED = Path(os.environ.get("SECAWARE_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
IPTABLES_SAMPLES = SHARED / "datasets" / "iptables_samples"
#: A file time after every example, so year-less headers resolve to the year the line was written.
MTIME = dt.datetime(2019, 12, 31, tzinfo=UTC)


def rows(*lines: str, fmt: str = "syslog", mtime: dt.datetime = MTIME) -> list[dict[str, Any]]:
    """Parse lines as the reader hands them over and return the rows as dicts."""
    frame = pl.DataFrame({"raw": list(lines), "line_no": range(1, len(lines) + 1), "warning": [None] * len(lines)},
                         schema=LINES_SCHEMA)
    return parse(frame, FileContext(path="/logs/fw.log", format=fmt, mtime=mtime)).to_dicts()


def row(line: str, **kw: Any) -> dict[str, Any]:
    [r] = rows(line, **kw)
    assert r["_reject"] is None, r["_reject"]
    return r


def subset(r: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in expected}


# --- iptables ----------------------------------------------------------------------------------

IPTABLES_EXAMPLE = (
    "May  7 20:44:44 Ubuntu-1404-trusty-64-minimal kernel: [545448.996144] iptables denied: IN=eth0 OUT= "
    "MAC=44:8a:5b:29:e8:c9:3c:61:04:71:0f:98:08:00 SRC=82.224.93.129 DST=148.251.68.173 LEN=64 TOS=0x00 "
    "PREC=0x00 TTL=48 ID=30884 DF PROTO=TCP SPT=51667 DPT=80 WINDOW=65535 RES=0x00 SYN URGP=0"
)


def test_iptables_example_line() -> None:
    r = row(IPTABLES_EXAMPLE)
    expected = {"source": "iptables", "host": "Ubuntu-1404-trusty-64-minimal", "program": "kernel",
                "interface_in": "eth0", "interface_out": None, "src_ip": "82.224.93.129", "dst_ip": "148.251.68.173",
                "src_port": 51667, "dst_port": 80, "protocol": "tcp", "bytes": 64, "action": "deny",
                "policy": "iptables denied:", "event_category": "network", "event_action": "packet",
                "parse_warning": None}
    assert subset(r, expected) == expected
    # no year in the header: the file's (December 2019) time gives 2019; read in Asia/Shanghai
    assert r["ts"] == dt.datetime(2019, 5, 7, 12, 44, 44, tzinfo=UTC)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # UFW, outbound: empty IN=, no MAC
        ("[UFW BLOCK] IN= OUT=eth0 SRC=10.0.0.5 DST=203.0.113.7 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP "
         "SPT=40000 DPT=25 WINDOW=64240 RES=0x00 SYN URGP=0",
         {"action": "deny", "policy": "[UFW BLOCK]", "interface_in": None, "interface_out": "eth0",
          "src_port": 40000, "dst_port": 25, "bytes": 60}),
        ("[UFW ALLOW] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=198.51.100.1 DST=10.0.0.5 "
         "LEN=52 TOS=0x00 PREC=0x00 TTL=50 ID=7 DF PROTO=TCP SPT=51000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0",
         {"action": "allow", "policy": "[UFW ALLOW]", "dst_port": 22}),
        # AUDIT only logs: no verdict, the prefix stays as the policy
        ("[UFW AUDIT] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=198.51.100.1 DST=10.0.0.5 "
         "LEN=52 TOS=0x00 PREC=0x00 TTL=50 ID=7 DF PROTO=TCP SPT=51000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0",
         {"action": None, "policy": "[UFW AUDIT]"}),
        # UDP: LEN= twice, the first (IP packet) is kept
        ("[netfilter-INPUT] IN=enp0s3 OUT= MAC=08:00:27:b1:ec:36:da:4b:14:4e:8f:da:08:00 SRC=192.168.122.1 "
         "DST=192.168.122.235 LEN=72 TOS=0x00 PREC=0x00 TTL=64 ID=25053 DF PROTO=UDP SPT=53 DPT=43648 LEN=52 ",
         {"protocol": "udp", "bytes": 72, "src_port": 53, "dst_port": 43648, "action": None,
          "policy": "[netfilter-INPUT]"}),
        # ICMP: TYPE/CODE instead of ports
        ("[netfilter-OUTPUT] IN= OUT=enp0s3 SRC=192.168.122.235 DST=172.217.21.238 LEN=84 TOS=0x00 PREC=0x00 "
         "TTL=64 ID=54583 DF PROTO=ICMP TYPE=8 CODE=0 ID=1295 SEQ=1 ",
         {"protocol": "icmp", "src_port": None, "dst_port": None, "bytes": 84, "dst_ip": "172.217.21.238"}),
        # no [uptime], prefix with colons; DROP and REJECT prefixes
        ("IPTABLES:BLOCKED-CONN: IN=eth0 OUT= MAC=00:0d:3a:2f:f2:27:12:34:56:78:9a:bc:08:00 SRC=40.119.104.0 "
         "DST=10.0.0.4 LEN=72 TOS=0x00 PREC=0x00 TTL=114 ID=0 DF PROTO=TCP SPT=23456 DPT=22911 WINDOW=17280 "
         "RES=0x00 ACK SYN URGP=0", {"action": "deny", "policy": "IPTABLES:BLOCKED-CONN:", "src_ip": "40.119.104.0"}),
        ("DROP-IN: IN=eth1 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=1 PROTO=TCP SPT=1 DPT=2 "
         "WINDOW=1024 RES=0x00 SYN URGP=0", {"action": "drop", "policy": "DROP-IN:"}),
        ("fw reject: IN=eth1 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=1 PROTO=UDP SPT=1 "
         "DPT=161 LEN=20", {"action": "reject", "protocol": "udp", "dst_port": 161}),
    ],
)
def test_iptables_variations(message: str, expected: dict[str, Any]) -> None:
    r = row(f"Dec  1 10:00:00 gw kernel: [  341.399450] {message}")
    assert r["source"] == "iptables"
    assert subset(r, expected) == expected


PACKET = ("[UFW ALLOW] IN=eth0 OUT= SRC=10.1.1.1 DST=10.0.0.5 LEN=52 TOS=0x00 PREC=0x00 TTL=50 ID=7 DF PROTO=TCP "
          "SPT=51000 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0")


def test_a_packet_line_inside_an_applications_message_is_no_packet() -> None:
    """An application that logs what a user typed would otherwise write a packet the firewall never saw,
    with addresses and ports of the user's choosing, into the firewall evidence (here an inbound RDP
    allowed). It stays a syslog event, its raw text kept, with a warning naming the program."""
    spoofed = row(f"Dec  1 10:00:00 gw oa-login[812]: login failed for user {PACKET}")
    assert (spoofed["source"], spoofed["program"], spoofed.get("src_ip"), spoofed.get("dst_port")) == (
        "syslog", "oa-login", None, None)
    assert "netfilter layout in a message of program oa-login: not read as a packet" in spoofed["parse_warning"]
    assert PACKET in spoofed["raw"]
    # the kernel's own lines, ulogd's and those whose tag a relay dropped are packets
    for line in (f"Dec  1 10:00:00 gw kernel: [  341.399450] {PACKET}", f"Dec  1 10:00:00 gw ulogd[99]: {PACKET}",
                 f"Dec  1 10:00:00 gw {PACKET}"):
        assert subset(row(line), {"source": "iptables", "dst_port": 3389, "parse_warning": None}) == {
            "source": "iptables", "dst_port": 3389, "parse_warning": None}, line
    # a collector configured as iptables vouches for its lines, whatever a relay named the program
    relayed = row(f"Dec  1 10:00:00 gw fw-relay: {PACKET}", fmt="iptables")
    assert (relayed["source"], relayed["dst_port"], relayed["action"]) == ("iptables", 3389, "allow")


@pytest.mark.write_disk
def test_iptables_real_logs_ingest_without_rejects(tmp_path: Path) -> None:
    adrien = IPTABLES_SAMPLES / "AdrienRE_iptablogs" / "iptables.log"
    dunneja = IPTABLES_SAMPLES / "dunneja_py-fw-log" / "iptables.log"
    if not (adrien.is_file() and dunneja.is_file()):
        pytest.fail(f"the shared iptables samples are missing under {IPTABLES_SAMPLES}")
    # A published dataset is complete even when its copy is seconds old: read its last line too.
    report = ingest([adrien, dunneja], tmp_path / "store", settle_seconds=0)
    assert report.totals()["rejects"] == 0
    events = pl.read_delta(str(tmp_path / "store" / "events"))
    assert (events["source"] == "iptables").all()

    a = events.filter(pl.col("file") == str(adrien))
    assert a.height == 8_443
    assert dict(a.group_by("protocol").len().iter_rows()) == {"tcp": 8_161, "udp": 276, "icmp": 6}
    # [netfilter-INPUT]/[netfilter-OUTPUT] name the chain, not a verdict
    assert a["action"].null_count() == a.height
    assert set(a["policy"]) == {"[netfilter-INPUT]", "[netfilter-OUTPUT]"}
    assert a.filter(pl.col("policy") == "[netfilter-OUTPUT]")["interface_in"].null_count() == 3_587

    d = events.filter(pl.col("file") == str(dunneja))
    assert d.height == 1_182  # the last line has no newline and still counts
    # IPTABLES:BLOCKED-CONN: is the administrator's label on the LOG rule placed before the rule
    # that blocks; LOG itself decides nothing, so "deny" is the label's word taken at face value
    # (we cannot tell DROP from REJECT from it).
    assert set(d["action"]) == {"deny"}
    assert set(d["policy"]) == {"IPTABLES:BLOCKED-CONN:"}
    assert d["dst_ip"].n_unique() >= 1 and d["src_port"].null_count() == 0


# --- Huawei USG --------------------------------------------------------------------------------

HUAWEI_BODY = (
    "USG6300 %%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4,Protocol=tcp,SourceIP=1.1.1.1,DestinationIP=2.2.2.2,"
    "SourcePort=6182,DestinationPort=443,BeginTime=1538736476,EndTime=1538736733,SendPkts=21,SendBytes=2135,"
    "RcvPkts=18,RcvBytes=1534,SourceVpnID=0,DestinationVpnID=0,PolicyName=Internet Access."
)
HUAWEI_FIELDS = {
    "source": "huawei_usg", "host": "USG6300", "program": "SECLOG", "protocol": "tcp", "src_ip": "1.1.1.1",
    "dst_ip": "2.2.2.2", "src_port": 6182, "dst_port": 443, "src_packets": 21, "src_bytes": 2135,
    "dst_packets": 18, "dst_bytes": 1534, "bytes": 3669, "duration_ms": 257_000, "policy": "Internet Access",
    "action": "allow", "event_action": "session_teardown", "event_category": "network", "syslog_severity": 6,
}


@pytest.mark.parametrize(
    ("header", "local"),
    [
        ("2018-10-05 10:52:13", dt.datetime(2018, 10, 5, 10, 52, 13)),
        ("Oct  5 2018 10:52:19", dt.datetime(2018, 10, 5, 10, 52, 19)),
        ("2018/10/05 09:52:14", dt.datetime(2018, 10, 5, 9, 52, 14)),
    ],
)
def test_huawei_session_teardown_in_the_three_date_styles(header: str, local: dt.datetime) -> None:
    r = row(f"{header} {HUAWEI_BODY}")
    assert subset(r, HUAWEI_FIELDS) == HUAWEI_FIELDS
    assert r["ts"] == local.replace(tzinfo=UTC) - dt.timedelta(hours=8)  # header read in Asia/Shanghai


def test_huawei_example_warns_when_header_and_end_time_disagree() -> None:
    # EndTime=1538736733 is 2018-10-05 10:52:13 UTC: this device wrote its header in UTC, so
    # reading it in the default zone puts ts 8 h early, and the event says so.
    r = row(f"2018-10-05 10:52:13 {HUAWEI_BODY}")
    assert r["ts"] == dt.datetime(2018, 10, 5, 2, 52, 13, tzinfo=UTC)
    assert "EndTime disagree" in r["parse_warning"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("May 15 2019 07:56:05 WUH-B-DC-USG6712E-1 %%01POLICY/6/POLICYDENY(l):vsys=public, protocol=17, "
         "source-ip=110.164.57.3, source-port=49198, destination-ip=202.28.71.194, destination-port=62196, "
         "time=May 15 2019 14:56:05, source-zone=untrust, destination-zone=local, application-name=, "
         "rule-name=Deny-To-Firewall.",
         {"protocol": "udp", "src_ip": "110.164.57.3", "src_port": 49198, "dst_ip": "202.28.71.194",
          "dst_port": 62196, "policy": "Deny-To-Firewall", "app": None, "action": "deny", "event_action": "deny",
          "program": "POLICY", "parse_warning": None}),
        # older USG5500: SEC module, `policy=`, severity 4 from the message, not the <PRI>
        ("<188>2015-07-20 13:51:15 USG5500_master %%01SEC/4/POLICYDENY(l): protocol=6, source-ip=175.149.48.121, "
         "source-port=50188, destination-ip=10.32.12.68, destination-port=7203, time=2015/07/20 13:51:15, "
         "interzone-untrust(public)-dzsw(public) inbound, policy=8.",
         {"protocol": "tcp", "src_ip": "175.149.48.121", "dst_port": 7203, "policy": "8", "action": "deny",
          "syslog_severity": 4, "syslog_facility": 23, "ts": dt.datetime(2015, 7, 20, 5, 51, 15, tzinfo=UTC)}),
        # keys in another case and spacing
        ("2018-10-05 10:52:13 USG6300 %%01POLICY/6/POLICYDENY(l):Protocol=6,Source-IP=10.0.0.1,SOURCE-PORT=1,"
         "destination-ip=10.0.0.2,Destination-Port=3389,Rule-Name=block rdp.",
         {"src_ip": "10.0.0.1", "src_port": 1, "dst_port": 3389, "policy": "block rdp", "action": "deny"}),
        # any other %%01 message: an event named by its mnemonic; the [12] is a sequence, not a pid
        ('<189>Oct  5 2018 10:52:19 USG6300 %%01SHELL/5/CMDRECORD(s)[12]:Recorded command information. '
         '(Task=VT0, Ip=10.0.0.5, User=admin, Command="display current-configuration")',
         {"event_action": "cmdrecord", "syslog_severity": 5, "program": "SHELL", "pid": None, "action": None,
          "message": 'Recorded command information. (Task=VT0, Ip=10.0.0.5, User=admin, '
                     'Command="display current-configuration")'}),
    ],
)
def test_huawei_policy_and_other_messages(line: str, expected: dict[str, Any]) -> None:
    r = row(line)
    assert r["source"] == "huawei_usg"
    assert subset(r, expected) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # VRP does not quote the user name a client sent: its `,SourceIP=` is no address of the event
        ("%%01SSH/5/SSH_USER_LOGIN_FAIL(s):The SSH user failed to login. (ServiceType=stelnet, FailedReason=Password "
         "authentication failed, UserName=admin,SourceIP=10.1.250.7, UserAddress=203.0.113.5, LocalAddress=10.1.1.1, "
         "VPNInstanceName=.)",
         {"src_ip": None, "user": None, "event_action": "ssh_user_login_fail"}),
        # a URL the client requested is not the firewall's NAT or time; the flow's own addresses are read
        ('%%01URL/4/FILTER(l):A URL was filtered. (SyslogId=1, SrcIp=10.1.1.10, DstIp=203.0.113.5, '
         'Page="evil.com/a,SourceNatIP=9.9.9.9,EndTime=1,x", Action=Block)',
         {"nat_src_ip": None, "parse_warning": None, "event_action": "filter", "src_ip": "10.1.1.10",
          "dst_ip": "203.0.113.5"}),
        # an IPS alert keeps its flow; text in its quoted fields is not read as pairs
        ('%%01IPS/4/DETECT(l):An intrusion was detected. (SyslogId=1, VSys="public", Policy="trust-untrust", '
         'SrcIp=203.0.113.5, DstIp=10.1.1.10, SrcPort=51234, DstPort=80, SrcZone=untrust, DstZone=trust, '
         'User="unknown", Protocol=TCP, Application="HTTP", Profile="ips", SignName="x, SrcIp=10.1.250.7", '
         'SignId=1000, EventNum=1, Target=server, Severity=high, Action=Alert)',
         {"src_ip": "203.0.113.5", "dst_ip": "10.1.1.10", "src_port": 51234, "dst_port": 80, "protocol": "tcp",
          "user": None, "app": None, "policy": None, "parse_warning": None, "event_action": "detect"}),
        # a key twice in a session body: neither is taken
        ("%%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4,Protocol=tcp,SourceIP=1.1.1.1,DestinationIP=2.2.2.2,"
         "SourcePort=6182,DestinationPort=443,BeginTime=1795364372,EndTime=1795364384,SendPkts=1,SendBytes=72,"
         "RcvPkts=1,RcvBytes=131,UserName=a,SourceIP=10.1.250.7,PolicyName=web.",
         {"src_ip": None, "dst_ip": "2.2.2.2", "action": "allow"}),
    ],
)
def test_huawei_text_that_imitates_pairs_is_not_read_as_them(body: str, expected: dict[str, Any]) -> None:
    r = row(f"2026-11-23 02:25:04 USG6300 {body}")
    assert r["source"] == "huawei_usg"
    assert subset(r, expected) == expected
    if expected.get("src_ip", "") is None and r["program"] == "SECLOG":
        assert "appears more than once" in r["parse_warning"]


def test_huawei_truncated_body_stays_an_event_with_a_warning() -> None:
    r = row("2018-10-05 10:52:13 USG6300 %%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4,Protocol=tcp,SourceIP=1.1.1.1,"
            "DestinationIP=2.2.2.2,SourcePort=61")
    assert (r["source"], r["src_ip"], r["dst_ip"], r["bytes"]) == ("huawei_usg", "1.1.1.1", "2.2.2.2", None)
    assert "not fully read" in r["parse_warning"]


# --- H3C ---------------------------------------------------------------------------------------

H3C_EXAMPLE = (
    "<6> Dec 01 16:15:43 2019 GB-ZWY-HLWQ-J1J2-S-FW-F1050-1&2 %%10session/6/SESSION_IPV4_FLOW: Protocol(1001)=TCP;"
    "Application(1002)=http;SrcIPAddr(1003)=192.168.187.12;SrcPort(1004)=40912;NatSrcIPAddr(1005)=112.35.18.188;"
    "NatSrcPort(1006)=9460;DstIPAddr(1007)=47.95.12.238;DstPort(1008)=80;BeginTime_e(1013)=12012019081543;"
    "EndTime_e(1014)=;Event(1048)=(8)Session created;"
)


def test_h3c_example_line_keeps_the_header_time() -> None:
    r = row(H3C_EXAMPLE)
    expected = {"source": "h3c", "host": "GB-ZWY-HLWQ-J1J2-S-FW-F1050-1&2", "program": "session",
                "protocol": "tcp", "app": "http", "src_ip": "192.168.187.12", "src_port": 40912,
                "nat_src_ip": "112.35.18.188", "nat_src_port": 9460, "dst_ip": "47.95.12.238", "dst_port": 80,
                "nat_dst_ip": None, "duration_ms": None, "bytes": None, "action": "allow",
                "event_action": "session_created", "event_category": "network", "syslog_severity": 6,
                "parse_warning": None}
    assert subset(r, expected) == expected
    # 16:15:43 in Asia/Shanghai; BeginTime_e 12012019081543 is the same instant written in UTC
    assert r["ts"] == dt.datetime(2019, 12, 1, 8, 15, 43, tzinfo=UTC)


def test_h3c_session_end_counts_and_duration() -> None:
    r = row("<6> Dec 01 16:15:43 2019 H3C %%10session/6/SESSION_IPV4_FLOW: Protocol(1001)=UDP;Application(1002)=dns;"
            "SrcIPAddr(1003)=192.168.1.5;SrcPort(1004)=5353;DstIPAddr(1007)=8.8.8.8;DstPort(1008)=53;"
            "NatDstIPAddr(1009)=8.8.4.4;NatDstPort(1010)=5353;InitPktCount(1044)=7;InitByteCount(1046)=520;"
            "RplyPktCount(1045)=5;RplyByteCount(1047)=3477;RcvVPNInstance(1042)=;SndVPNInstance(1043)=;"
            "BeginTime_e(1013)=12012019081051;EndTime_e(1014)=12012019081543;Event(1048)=(1)Normal over;")
    expected = {"protocol": "udp", "src_packets": 7, "src_bytes": 520, "dst_packets": 5, "dst_bytes": 3477,
                "bytes": 3997, "duration_ms": 292_000, "nat_dst_ip": "8.8.4.4", "nat_dst_port": 5353,
                "event_action": "session_deleted", "action": "allow"}
    assert subset(r, expected) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("<190>Dec 04 17:41:32 2019 FW %%10FILTER/6/FILTER_ZONE_IPV4_EXECUTION: SrcZoneName(1025)=Untrust;"
         "DstZoneName(1035)=Trust;Type(1067)=ACL;ObjectPolicy(1072)=deny-all;RuleID(1078)=5;Protocol(1001)=TCP;"
         "Application(1002)=ssh;SrcIPAddr(1003)=203.0.113.5;SrcPort(1004)=51515;DstIPAddr(1007)=10.0.0.22;"
         "DstPort(1008)=22;MatchCount(1069)=1;Event(1048)=Deny;",
         {"action": "deny", "event_action": "deny", "policy": "deny-all", "src_ip": "203.0.113.5", "dst_port": 22,
          "app": "ssh", "program": "FILTER"}),
        # other firmware: SecurityPolicy(1072), `-Chassis=1-Slot=3.1; ` before the pairs
        ("<190>Feb 24 08:44:43 2021 HIHK-T9008-01 %%10FILTER/6/FILTER_ZONE_IPV4_EXECUTION: -Chassis=1-Slot=3.1; "
         "SrcZoneName(1025)=Untrust;DstZoneName(1035)=Untrust;Type(1067)=ACL;SecurityPolicy(1072)=IPS;"
         "RuleID(1078)=5;Protocol(1001)=TCP;Application(1002)=other;SrcIPAddr(1003)=124.225.89.1;SrcPort(1004)=80;"
         "SrcMacAddr(1021)=8ce5-ef7a-4902;DstIPAddr(1007)=140.240.61.149;DstPort(1008)=3931;MatchCount(1069)=256;"
         "Event(1048)=Permit;",
         {"action": "allow", "event_action": "permit", "policy": "IPS", "src_port": 80, "dst_ip": "140.240.61.149",
          "ts": dt.datetime(2021, 2, 24, 0, 44, 43, tzinfo=UTC)}),
        # IPv6: the addresses have ids of their own (1036, 1037); without them the flow had no addresses
        ("<190>Nov 23 04:20:11 2026 FW %%10session/6/SESSION_IPV6_FLOW: Protocol(1001)=TCP;Application(1002)=rdp;"
         "SrcIPv6Addr(1036)=240e:3cc:e12b:b5f6::9;SrcPort(1004)=51290;DstIPv6Addr(1037)=2408:8270:399::10;"
         "DstPort(1008)=3389;InitPktCount(1044)=12;InitByteCount(1046)=2210;RplyPktCount(1045)=10;"
         "RplyByteCount(1047)=4410;BeginTime_e(1013)=11222026201940;EndTime_e(1014)=11222026202011;"
         "Event(1048)=(2)Session deleted;",
         {"src_ip": "240e:3cc:e12b:b5f6::9", "dst_ip": "2408:8270:399::10", "dst_port": 3389, "bytes": 6620,
          "action": "allow", "event_action": "session_deleted", "parse_warning": None}),
        ("<188>Nov 23 08:45:13 2026 FW %%10ATK/4/ATK_ICMPV6_TRACEROUTE_SZ: -Chassis=1-Slot=3.1; SubModule(1127)=SINGLE; "
         "SrcZoneName(1025)=Untrust; SrcIPv6Addr(1036)=2409:8a62:3b6:4ad7::5; DstIPv6Addr(1037)=2408:8270:399::1; "
         "RcvVPNInstance(1042)=; Action(1053)=logging; AtkTimes(1054)=1.",
         {"src_ip": "2409:8a62:3b6:4ad7::5", "dst_ip": "2408:8270:399::1", "event_action": "atk_icmpv6_traceroute_sz"}),
        ("<189>Dec  4 17:42:33 2019 H3C %%10SHELL/5/SHELL_LOGOUT: admgbzwy@system(@context5) logged out from vty1.",
         {"event_action": "shell_logout", "syslog_severity": 5, "action": None,
          "message": "admgbzwy@system(@context5) logged out from vty1."}),
    ],
)
def test_h3c_filter_and_other_messages(line: str, expected: dict[str, Any]) -> None:
    r = row(line)
    assert r["source"] == "h3c"
    assert subset(r, expected) == expected


H3C_HEAD = "<190>Nov 23 00:09:44 2026 FW %%10"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # a login message is prose around a client-chosen user name: nothing in it is read as a pair
        ("SSHS/6/SSHS_AUTH_FAIL: SSH user a;SrcIPAddr(1003)=10.1.250.7;DstPort(1008)=1; failed to pass password "
         "authentication from 203.0.113.5.",
         {"src_ip": None, "dst_port": None, "event_action": "sshs_auth_fail"}),
        # a value holding a pair (H3C does not escape `;`): the id is there twice, neither is taken
        ("UFLT/6/UFLT_MATCH_IPV4_LOG: Protocol(1001)=TCP;Application(1002)=http;UserName(1113)=x;"
         "SrcIPAddr(1003)=10.1.250.7;;SrcIPAddr(1003)=10.1.1.5;SrcPort(1004)=5000;DstIPAddr(1007)=203.0.113.5;"
         "DstPort(1008)=80;URL(1093)=evil.com/;Action(1053)=Permit;",
         {"src_ip": None, "src_port": 5000, "dst_ip": "203.0.113.5", "user": "x",
          "parse_warning": "h3c: a field id appears more than once (text inside a value?); those fields are left "
                           "empty"}),
        ("FILTER/6/FILTER_ZONE_IPV4_EXECUTION: SrcZoneName(1025)=Untrust;DstZoneName(1035)=DMZ;Type(1067)=ACL;"
         "SecurityPolicy(1072)=p;RuleID(1078)=1;Protocol(1001)=TCP;Application(1002)=ssh;"
         "SrcIPAddr(1003)=89.248.165.100;SrcPort(1004)=16060;DstIPAddr(1007)=61.178.103.10;DstPort(1008)=22;"
         "MatchCount(1069)=1;Event(1048)=Permit;Event(1048)=Deny;",
         {"action": None, "src_ip": "89.248.165.100"}),
    ],
)
def test_h3c_text_that_imitates_pairs_is_not_read_as_them(body: str, expected: dict[str, Any]) -> None:
    r = row(H3C_HEAD + body)
    assert r["source"] == "h3c"
    assert subset(r, expected) == expected


def test_h3c_truncated_body_keeps_only_complete_values() -> None:
    r = row("<6> Dec 01 16:15:43 2019 H3C %%10session/6/SESSION_IPV4_FLOW: Protocol(1001)=TCP;"
            "SrcIPAddr(1003)=192.168.")
    assert (r["source"], r["protocol"], r["src_ip"]) == ("h3c", "tcp", None)
    assert "not fully read" in r["parse_warning"]


# --- Hillstone ---------------------------------------------------------------------------------

HILLSTONE_EXAMPLE = (
    "<190>Sep 25 15:11:42 1304415172004335(root) 44243624 Traffic@FLOW: SESSION: 2.240.148.244:8000->"
    "172.23.19.2:50844(TCP), application TCP-ANY, interface ethernet1/1, vr trust-vr, policy 2, user -@-, host -, "
    "send packets 0,send bytes 0,receive packets 0,receive bytes 0,start time 2019-09-25 15:10:40,"
    "close time 2019-09-25 15:11:42,session end,Ageout"
)


def test_hillstone_example_line() -> None:
    r = row(HILLSTONE_EXAMPLE)
    expected = {"source": "hillstone", "host": "1304415172004335(root)", "src_ip": "2.240.148.244",
                "src_port": 8000, "dst_ip": "172.23.19.2", "dst_port": 50844, "protocol": "tcp", "app": "TCP-ANY",
                "interface_in": "ethernet1/1", "policy": "2", "user": None, "src_packets": 0, "src_bytes": 0,
                "dst_packets": 0, "dst_bytes": 0, "bytes": 0, "duration_ms": 62_000, "action": "allow",
                "event_action": "session_deleted", "event_category": "network", "syslog_severity": 6,
                "ts": dt.datetime(2019, 9, 25, 7, 11, 42, tzinfo=UTC), "parse_warning": None}
    assert subset(r, expected) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # other release: no commas between user/host/mac, ". " between the times
        ("<190>Nov 25 13:34:03 2812239202000738(root) 44243630 Traffic@FLOW: SESSION: 10.18.9.34:58813->"
         "10.16.6.14:8004(TCP), application Redis, interface ethernet0/8, vr trust-vr, policy 1198, user -@- host - "
         "mac 0000.0000.0000, send packets 11, send bytes 713, receive packets 7, receive bytes 428, start time "
         "2019-11-25 13:32:32. close time 2019-11-25 13:34:03. session end. TCP RST",
         {"app": "Redis", "policy": "1198", "src_bytes": 713, "dst_bytes": 428, "bytes": 1141, "src_packets": 11,
          "dst_packets": 7, "duration_ms": 91_000, "event_action": "session_deleted"}),
        ("Aug  7 18:52:22 2812008195003847(root) 4424362f Traffic@FLOW: SESSION: 172.19.112.25:64141->"
         "10.11.183.156:445(TCP), interface ethernet0/1, vr trust-vr, policy 16, user -@-, host -, "
         "mac 0000.0000.0000, policy deny",
         {"action": "deny", "event_action": "deny", "policy": "16", "dst_port": 445, "src_ip": "172.19.112.25"}),
        ("<190>Sep 29 00:06:00 1304415172001433(root) 46083624 Traffic@FLOW: NAT: 180.96.16.254:19419->"
         "58.218.194.50:80(TCP), dnat to 172.17.196.129:80, vr trust-vr, user -@UNKNOWN, host -, rule 30",
         {"event_action": "nat", "nat_dst_ip": "172.17.196.129", "nat_dst_port": 80, "dst_ip": "58.218.194.50",
          "user": None, "action": None}),
        ('Aug  7 18:52:22 2812008195003847(root) 4424362f Event@MGMT: Admin user "hillstone" logined through SSH, '
         "from 172.16.30.4:62434 to 172.16.100.100:22(TCP)",
         {"event_action": "event_mgmt", "program": "MGMT", "src_ip": None, "action": None}),
    ],
)
def test_hillstone_variants(line: str, expected: dict[str, Any]) -> None:
    r = row(line)
    assert r["source"] == "hillstone"
    assert subset(r, expected) == expected


HILLSTONE_HEAD = "<190>Nov 23 01:26:00 1304415172004314(root) 44243624 "
HILLSTONE_END = ("send packets 24,send bytes 1589,receive packets 183,receive bytes 60952,start time 2026-11-23 "
                 "01:24:44,close time 2026-11-23 01:26:00,session end,TCP FIN")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # user and host names are chosen by users: "deny" in them is no verdict
        ("Traffic@FLOW: SESSION: 221.7.146.164:23288->10.2.1.10:443(TCP), application HTTPS, interface ethernet0/1, "
         f"vr trust-vr, policy 2, user deny@local, host -, {HILLSTONE_END}",
         {"action": "allow", "event_action": "session_deleted", "user": "deny"}),
        ("Traffic@FLOW: SESSION: 221.7.146.164:23288->10.2.1.10:443(TCP), application HTTPS, interface ethernet0/1, "
         f"vr trust-vr, policy 2, user -@-, host denied-pc, {HILLSTONE_END}",
         {"action": "allow", "event_action": "session_deleted"}),
        # a quoted name (what a client typed at the login prompt) is neither a verdict nor phrases
        ('Event@MGMT: Admin user "deny" logined through SSH, from 172.16.30.4:62434 to 172.16.100.100:22(TCP)',
         {"action": None, "event_action": "event_mgmt"}),
        ('Event@MGMT: Admin user "x, policy 99, user root" logined through SSH, from 172.16.30.4:62434 to '
         "172.16.100.100:22(TCP)",
         {"policy": None, "user": None, "event_action": "event_mgmt",
          "message": 'Admin user "x, policy 99, user root" logined through SSH, from 172.16.30.4:62434 to '
                     "172.16.100.100:22(TCP)"}),
        # the device's own verdict still counts, with a NUL some relays leave at the end
        ("Traffic@FLOW: SESSION: 185.242.226.244:22320->10.2.1.11:1433(TCP), interface ethernet0/1, vr trust-vr, "
         "policy 16, user deny@local, host -, mac 0000.0000.0000, policy deny\x00",
         {"action": "deny", "event_action": "deny", "policy": "16"}),
    ],
)
def test_hillstone_user_text_never_sets_the_verdict(body: str, expected: dict[str, Any]) -> None:
    r = row(HILLSTONE_HEAD + body)
    assert r["source"] == "hillstone"
    assert subset(r, expected) == expected


@pytest.mark.parametrize("name", [
    "user a,send bytes 999999999,receive bytes 888888888,send packets 7777777@local, host -",
    "user -@-, host pc,send packets 7777777,receive packets 6666666,start time 2000-01-01 00:00:00",
    "user x,close time 2099-01-01 00:00:00@y, host -",
])
def test_hillstone_user_and_host_names_never_set_the_counters_or_times(name: str) -> None:
    """The counters and times follow the user and host names, which a user chose (StoneOS neither
    quotes nor escapes them): a name holding `,send bytes 999999999` must not make the session an
    exfiltration, nor one holding a start time make it last 26 years."""
    r = row(HILLSTONE_HEAD + "Traffic@FLOW: SESSION: 221.7.146.164:23288->10.2.1.10:443(TCP), application HTTPS, "
            f"interface ethernet0/1, vr trust-vr, policy 2, {name}, {HILLSTONE_END}")
    expected = {"src_bytes": 1589, "dst_bytes": 60952, "bytes": 62541, "src_packets": 24, "dst_packets": 183,
                "duration_ms": 76_000, "policy": "2", "action": "allow"}
    assert subset(r, expected) == expected


def test_hillstone_truncated_session_is_an_event_with_a_warning() -> None:
    r = row("<190>Sep 25 15:11:42 1304415172004335(root) 44243624 Traffic@FLOW: SESSION: 2.240.148.244:80")
    assert (r["source"], r["src_ip"]) == ("hillstone", None)
    assert "not readable" in r["parse_warning"]


# --- Sangfor -----------------------------------------------------------------------------------

SANGFOR_EXAMPLE = (
    "<134>Dec  1 18:37:58 localhost fwlog: 日志类型:流量审计, 应用类型:Other, 用户名/主机:192.168.100.26, "
    "上行流量(KB):14450, 下行流量(KB):38055, 总流量(KB):52505"
)


def test_sangfor_example_line() -> None:
    r = row(SANGFOR_EXAMPLE)
    expected = {"source": "sangfor", "host": "localhost", "program": "fwlog", "event_action": "traffic_audit",
                "event_category": "network", "app": "Other", "src_ip": "192.168.100.26", "user": None,
                "src_bytes": 14450 * 1024, "dst_bytes": 38055 * 1024, "bytes": 52505 * 1024, "action": None,
                "ts": dt.datetime(2019, 12, 1, 10, 37, 58, tzinfo=UTC)}
    assert subset(r, expected) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("日志类型:网络访问, 源IP:10.1.1.1, 源端口:5000, 目的IP:10.2.2.2, 目的端口:3389, 协议:tcp, 动作:拒绝",
         {"event_action": "network_access", "src_ip": "10.1.1.1", "src_port": 5000, "dst_ip": "10.2.2.2",
          "dst_port": 3389, "protocol": "tcp", "action": "deny"}),
        ("所属系统:public, 日志类型:服务控制或应用控制, 策略名称:应用控制策略, 用户:(null), 源IP:192.168.10.123, "
         "源端口:9026, 目的IP:203.209.246.138, 目的端口:9000, 应用类型:any, 应用名称:, 系统动作:允许",
         {"event_action": "app_control", "policy": "应用控制策略", "user": None, "app": None, "action": "allow",
          "dst_port": 9000}),
        # 被记录 only says the line was logged
        ("日志类型:服务控制或应用控制, 用户:(null), 源IP:192.168.1.133, 源端口:38378, 目的IP:222.46.22.226, "
         "目的端口:10240, 应用类型:Other, 应用名称:any, 系统动作:被记录",
         {"action": None, "app": "Other", "src_port": 38378}),
        ("日志类型:IPS防护日志, 源IP:192.168.200.1, 源端口:1102, 目的IP:192.168.200.100, 目的端口:80, 协议:tcp, "
         "攻击类型:web漏洞攻击, 漏洞名称:WebCalendar本地文件包含和PHP代码注入漏洞, 严重等级:高, 动作:拒绝",
         {"event_action": "ips", "event_category": "intrusion_detection", "action": "deny", "alert_severity": 1,
          "signature": "WebCalendar本地文件包含和PHP代码注入漏洞", "alert_category": "web漏洞攻击"}),
        ("日志类型:NAT日志, NAT类型:snat, 源IP:192.15.168.120, 源端口:52977, 目的IP:113.108.80.138, 目的端口:53, "
         "协议:17, 转换后的IP:192.168.155.246, 转换后的端口:52977",
         {"event_action": "nat", "protocol": "udp", "nat_src_ip": "192.168.155.246", "nat_src_port": 52977,
          "nat_dst_ip": None}),
    ],
)
def test_sangfor_variants(message: str, expected: dict[str, Any]) -> None:
    r = row(f"<134>Dec  1 18:37:58 localhost fwlog: {message}")
    assert r["source"] == "sangfor"
    assert subset(r, expected) == expected


SANGFOR_TWICE = "sangfor: a key appears more than once (text inside a value?); it is left empty"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # a user name holding a pair, ahead of the real one: neither address is taken
        ("日志类型:服务控制或应用控制, 用户:x, 源IP:10.1.250.7, 源IP:203.0.113.5, 源端口:1, 目的IP:10.1.1.1, "
         "目的端口:80, 应用类型:Other, 应用名称:any, 系统动作:拒绝",
         {"src_ip": None, "user": "x", "dst_ip": "10.1.1.1", "action": "deny", "parse_warning": SANGFOR_TWICE}),
        # a URL ending in a verdict, ahead of the real one
        ("日志类型:网站访问, 用户:(null), 源IP:203.0.113.5, 目的IP:10.1.1.1, URL:www.x.com/a, 系统动作:允许, "
         "系统动作:拒绝",
         {"action": None, "src_ip": "203.0.113.5", "parse_warning": SANGFOR_TWICE}),
        ("日志类型:用户认证, 用户:admin, IP地址:10.1.250.7, IP地址:203.0.113.5",
         {"src_ip": None, "user": "admin", "event_action": "user_auth", "parse_warning": SANGFOR_TWICE}),
    ],
)
def test_sangfor_key_written_twice_is_left_empty(message: str, expected: dict[str, Any]) -> None:
    r = row(f"<134>Dec  1 18:37:58 localhost fwlog: {message}")
    assert r["source"] == "sangfor"
    assert subset(r, expected) == expected


@pytest.mark.write_disk
def test_sangfor_gbk_file_through_the_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "sangfor.log"
    lines = [SANGFOR_EXAMPLE,
             "<134>Dec  1 18:38:01 localhost fwlog: 日志类型:网络访问, 源IP:10.1.1.1, 源端口:5000, 目的IP:10.2.2.2, "
             "目的端口:3389, 协议:tcp, 动作:拒绝"]
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    report = ingest([path], tmp_path / "store")
    assert report.totals()["rejects"] == 0
    events = pl.read_delta(str(tmp_path / "store" / "events")).sort("line_no")
    assert events["source"].to_list() == ["sangfor", "sangfor"]
    assert events["event_action"].to_list() == ["traffic_audit", "network_access"]
    assert events["bytes"].to_list() == [52505 * 1024, None]
    assert events["action"].to_list() == [None, "deny"]
    assert events["raw"][0] == SANGFOR_EXAMPLE


# --- all of them -------------------------------------------------------------------------------

def test_every_firewall_is_a_forcible_format() -> None:
    for name in ("iptables", "huawei_usg", "h3c", "hillstone", "sangfor"):
        assert name in FORMATS and FORMATS[name].description


def test_mixed_file_routes_each_line_and_forced_format_rejects_the_rest() -> None:
    lines = [IPTABLES_EXAMPLE, f"2018-10-05 10:52:13 {HUAWEI_BODY}", H3C_EXAMPLE, HILLSTONE_EXAMPLE, SANGFOR_EXAMPLE,
             "Dec  1 10:00:00 web01 cron[12]: (root) CMD (true)"]
    assert [r["source"] for r in rows(*lines)] == ["iptables", "huawei_usg", "h3c", "hillstone", "sangfor", "syslog"]
    forced = rows(*lines, fmt="h3c")
    assert [r["_reject"] is None for r in forced] == [False, False, True, False, False, False]
    assert forced[0]["_reject"] == "not a h3c line"


def test_broken_header_is_a_reject_with_a_reason() -> None:
    [r] = rows("USG6300 %%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4,Protocol=tcp")
    assert r["_reject"] == "no time in the header or the message"
    [r] = rows("this line has no header at all")
    assert r["_reject"] == "not a syslog line"


def test_huawei_policy_deny_without_header_time_takes_its_local_time() -> None:
    [r] = rows("GS-GN-USG6330-01 %%01POLICY/6/POLICYDENY(l):vsys=public, protocol=6, source-ip=89.248.165.211, "
               "source-port=5760, destination-ip=10.14.1.10, destination-port=22, time=2026/11/23 00:41:29, "
               "source-zone=untrust, destination-zone=dmz, application-name=, rule-name=default.")
    assert r["_reject"] is None
    assert r["ts"] == dt.datetime(2026, 11, 22, 16, 41, 29, tzinfo=dt.UTC)  # read in Asia/Shanghai
    assert (r["action"], r["src_ip"], r["dst_port"], r["policy"]) == ("deny", "89.248.165.211", 22, "default")


def test_huawei_line_without_header_time_takes_the_session_end() -> None:
    """Devices set to send no time (seen in the field): the session's EndTime epoch is the event time."""
    [r] = rows("GS-GN-USG6330-01 %%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4,Protocol=tcp,SourceIP=202.100.69.21,"
               "DestinationIP=10.14.1.11,SourcePort=17127,DestinationPort=443,BeginTime=1795364139,"
               "EndTime=1795364191,SendPkts=9,SendBytes=1200,RcvPkts=8,RcvBytes=5400,PolicyName=web.")
    assert r["_reject"] is None
    assert r["ts"] == dt.datetime.fromtimestamp(1795364191, dt.UTC)
    assert (r["host"], r["source"], r["src_ip"], r["dst_port"], r["duration_ms"]) == (
        "GS-GN-USG6330-01", "huawei_usg", "202.100.69.21", 443, 52000)
