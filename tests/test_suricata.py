"""Suricata EVE JSON: one record a line, mapped by event_type; bad lines are rejects, never errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from secaware.ingest import ingest, suricata
from secaware.ingest._common import FileContext
from secaware.ingest.formats import resolve, sniff

UTC = dt.UTC

# log-formats.md, "IDS": the real alert line given there.
ALERT = ('{"timestamp":"2017-04-07T22:24:37.251547+0100","flow_id":586497171462735,"event_type":"alert",'
         '"src_ip":"192.168.2.14","src_port":50096,"dest_ip":"209.53.113.5","dest_port":80,"proto":"TCP",'
         '"alert":{"action":"allowed","gid":1,"signature_id":2018358,"rev":10,"signature":"ET HUNTING GENERIC '
         'SUSPICIOUS POST to Dotted Quad with Fake Browser 1","category":"Potentially Bad Traffic","severity":2},'
         '"app_proto":"http"}')
# Records of the other types, shaped as Suricata 7 writes them.
HTTP = json.dumps({
    "timestamp": "2024-05-01T08:30:00.000100+0800", "flow_id": 1234, "in_iface": "eth1", "event_type": "http",
    "src_ip": "10.62.1.20", "src_port": 51000, "dest_ip": "10.62.0.80", "dest_port": 80, "proto": "TCP",
    "tx_id": 0, "host": "ids-lanzhou",
    "http": {"hostname": "www.lanzhou.gov.cn", "url": "/search.php?q=1%27+or+1=1--&p=2",
             "http_user_agent": "sqlmap/1.7.2#stable (https://sqlmap.org)", "http_content_type": "text/html",
             "http_refer": "http://www.lanzhou.gov.cn/", "http_method": "GET", "protocol": "HTTP/1.1",
             "status": 500, "length": 2048},
})
FLOW = json.dumps({
    "timestamp": "2024-05-01T08:31:00.000000+0800", "flow_id": 1234, "event_type": "flow", "src_ip": "10.62.1.20",
    "src_port": 51000, "dest_ip": "10.62.0.80", "dest_port": 80, "proto": "TCP", "app_proto": "http",
    "sensor_name": "ids-2",
    "flow": {"pkts_toserver": 7, "pkts_toclient": 5, "bytes_toserver": 900, "bytes_toclient": 3100,
             "start": "2024-05-01T08:29:59.990000+0800", "end": "2024-05-01T08:30:00.100000+0800", "age": 1,
             "state": "closed", "reason": "timeout", "alerted": True},
    "tcp": {"tcp_flags": "1b", "syn": True},
})
DNS = json.dumps({
    "timestamp": "2024-05-01T00:00:01.5+0000", "flow_id": 99, "event_type": "dns", "src_ip": "10.62.1.20",
    "src_port": 53000, "dest_ip": "10.62.0.53", "dest_port": 53, "proto": "UDP",
    "dns": {"type": "query", "id": 4321, "rrname": "c2.example.net", "rrtype": "TXT", "tx_id": 0},
})


def frame(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"raw": lines, "line_no": list(range(1, len(lines) + 1)), "warning": [None] * len(lines)},
        schema={"raw": pl.String, "line_no": pl.Int64, "warning": pl.String},
    )


def parse(lines: list[str]) -> pl.DataFrame:
    return suricata.parse(frame(lines), FileContext(path="/logs/eve.json", format="suricata"))


def test_reference_alert_line() -> None:
    row = parse([ALERT]).row(0, named=True)
    assert row["_reject"] is None and row["_skip"] is False
    assert row["ts"] == dt.datetime(2017, 4, 7, 21, 24, 37, 251547, tzinfo=UTC)  # +0100 taken off
    assert row["flow_id"] == 586497171462735
    assert row["event_action"] == "alert"
    assert row["event_category"] == "intrusion_detection"
    assert (row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"]) == ("192.168.2.14", 50096,
                                                                                 "209.53.113.5", 80)
    assert row["protocol"] == "tcp"
    assert row["signature"] == "ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1"
    assert row["signature_id"] == 2018358
    assert row["alert_category"] == "Potentially Bad Traffic"
    assert row["alert_severity"] == 2
    assert row["action"] == "allow"  # IDS mode: detected, not stopped
    assert row["app"] == "http"
    assert row["message"] == row["signature"]
    assert row["source"] == "suricata"
    assert row["host"] is None and row["url_path"] is None and row["bytes"] is None


def test_http_record() -> None:
    row = parse([HTTP]).row(0, named=True)
    assert row["ts"] == dt.datetime(2024, 5, 1, 0, 30, 0, 100, tzinfo=UTC)
    assert (row["event_action"], row["event_category"]) == ("http", "web")
    assert row["url_domain"] == "www.lanzhou.gov.cn"
    assert row["url_path"] == "/search.php"
    assert row["url_query"] == "q=1%27+or+1=1--&p=2"
    assert row["http_method"] == "GET" and row["http_version"] == "HTTP/1.1"
    assert row["http_request"] == "GET /search.php?q=1%27+or+1=1--&p=2 HTTP/1.1"
    assert row["http_status"] == 500 and row["bytes"] == 2048
    assert row["user_agent"] == "sqlmap/1.7.2#stable (https://sqlmap.org)"
    assert row["referer"] == "http://www.lanzhou.gov.cn/"
    assert row["host"] == "ids-lanzhou" and row["interface_in"] == "eth1"
    assert row["message"] == "GET www.lanzhou.gov.cn/search.php?q=1%27+or+1=1--&p=2"
    assert row["action"] is None and row["signature"] is None


def test_flow_and_dns_records() -> None:
    flow, dns = parse([FLOW, DNS]).iter_rows(named=True)
    assert (flow["event_category"], flow["host"]) == ("network", "ids-2")
    assert (flow["src_bytes"], flow["dst_bytes"], flow["bytes"]) == (900, 3100, 4000)
    assert (flow["src_packets"], flow["dst_packets"]) == (7, 5)
    assert flow["message"] == "flow tcp 10.62.1.20:51000 -> 10.62.0.80:80"
    assert (dns["event_category"], dns["protocol"]) == ("dns", "udp")
    assert dns["ts"] == dt.datetime(2024, 5, 1, 0, 0, 1, 500000, tzinfo=UTC)
    assert dns["message"] == "dns query c2.example.net TXT"


def test_blocked_alert_and_other_record_types() -> None:
    blocked = ALERT.replace('"allowed"', '"blocked"')
    dns3 = ('{"timestamp":"2024-05-01T00:00:00.000000+0000","event_type":"dns","dns":{"version":3,'
            '"type":"request","queries":[{"rrname":"a.example","rrtype":"AAAA"}]}}')
    tls = '{"timestamp":"2024-05-01T00:00:00.000000+0000","event_type":"tls","tls":{"sni":"x.example"}}'
    zulu = '{"timestamp":"2024-05-01T00:00:00.25Z","event_type":"anomaly"}'
    out = parse([blocked, dns3, tls, zulu])
    assert out["action"][0] == "deny"
    assert out["message"].to_list()[1:3] == ["dns request a.example AAAA", "tls x.example"]
    assert out["event_category"].to_list()[1:] == ["dns", "network", "network"]
    assert out["ts"][3] == dt.datetime(2024, 5, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert out["_reject"].is_null().all()


def test_bad_lines_are_rejects_with_reasons_not_errors() -> None:
    lines = [ALERT, '{"timestamp":"2024-05-01T00:00:00', "", "[1, 2]", "null",
             '{"timestamp":"2024-05-01T00:00:00.000000+0000"}',
             '{"timestamp":"2024-05-01T00:00:00.000000+0000","event_type":"alert","alert":"oops"}',
             '{"timestamp":"yesterday","event_type":"flow"}',
             '{"timestamp":"2024-05-01T00:00:00.000000+0000","event_type":"flow","src_port":"8080"}', HTTP]
    out = parse(lines)
    assert out["line_no"].to_list() == list(range(1, 11))
    assert out["_skip"].to_list() == [False, False, True, *[False] * 7]
    assert out["_reject"].to_list() == [
        None, "invalid JSON", None, "not a JSON object", "not a JSON object", "no event_type: not an EVE record",
        None, "unreadable timestamp: yesterday", None, None]
    # valid JSON with a value of an unexpected type is an event; that value is simply absent
    assert (out["event_action"][6], out["signature"][6]) == ("alert", None)
    assert out["src_port"][8] == 8080  # a quoted number is read, not refused
    assert out["url_domain"][9] == "www.lanzhou.gov.cn"  # lines after the bad ones are intact
    assert out["signature"][0] == "ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1"


def test_relayed_records_with_an_object_host_keep_every_line() -> None:
    """Filebeat rewrites `host` as an object: no line is lost, and the object is kept as its JSON."""
    relayed = [x[:-1] + ',"host":{"name":"ids-tianshui"}}' for x in (ALERT, HTTP.replace('"host": "ids-lanzhou", ', ''),
                                                                     "{not json}"[:-1] + "}")]
    out = parse(relayed * 2_000)
    assert out["_reject"].to_list()[:3] == [None, None, "invalid JSON"]
    assert out["host"][0] == '{"name":"ids-tianshui"}'
    assert out["signature_id"][0] == 2018358 and out["url_path"][1] == "/search.php"
    assert out["_reject"].is_null().sum() == 4_000


def test_one_bad_line_in_a_big_chunk_costs_only_that_line() -> None:
    lines = [FLOW] * 30_000 + ["{not json}"] + [DNS] * 30_000
    out = parse(lines)
    assert out.height == 60_001
    assert out.filter(pl.col("_reject").is_not_null())["line_no"].to_list() == [30_001]
    assert out["event_action"][-1] == "dns"


def test_sniff_picks_suricata() -> None:
    assert sniff([ALERT, HTTP, FLOW, DNS])[0] == "suricata"
    assert suricata.sniff(['{"message": "not eve"}']) == 0.0
    assert resolve("eve") is resolve("suricata")


@pytest.mark.write_disk
def test_pipeline(tmp_path: Path) -> None:
    log, store = tmp_path / "eve.json", tmp_path / "store"
    lines = [ALERT, HTTP, '{"timestamp": "2024-05-01T08:30:00', FLOW, "", DNS, "garbage"]
    log.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    f = ingest([log], store, settle_seconds=0).files[0]
    assert (f.format, f.lines, f.events, f.rejects, f.skipped) == ("suricata", 7, 4, 2, 1)
    assert f.events + f.rejects + f.skipped == f.lines
    ev = pl.read_delta(str(store / "events")).sort("line_no")
    assert ev.schema["ts"] == pl.Datetime("us", "UTC")
    assert ev.select("line_no", "event_action", "ts").rows() == [
        (1, "alert", dt.datetime(2017, 4, 7, 21, 24, 37, 251547, tzinfo=UTC)),
        (2, "http", dt.datetime(2024, 5, 1, 0, 30, 0, 100, tzinfo=UTC)),
        (4, "flow", dt.datetime(2024, 5, 1, 0, 31, tzinfo=UTC)),
        (6, "dns", dt.datetime(2024, 5, 1, 0, 0, 1, 500000, tzinfo=UTC)),
    ]
    assert ev["source"].unique().to_list() == ["suricata"]
    rej = pl.read_delta(str(store / "rejects")).sort("line_no")
    assert rej.select("line_no", "reason", "format").rows() == [
        (3, "invalid JSON", "suricata"), (7, "invalid JSON", "suricata")]
    assert rej["raw"].to_list() == [lines[2], "garbage"]


def test_keys_found_loose_are_remembered_for_the_next_chunk() -> None:
    ctx = FileContext(path="/logs/eve.json", format="suricata")
    relayed = ALERT[:-1] + ',"host":{"name":"ids-1"}}'
    suricata.parse(frame([relayed, ALERT]), ctx)
    assert ctx.state["loose_keys"] == ["host"]
    out = suricata.parse(frame([relayed, ALERT]), ctx)
    assert out["host"].to_list() == ['{"name":"ids-1"}', None]
    assert out["signature_id"].to_list() == [2018358, 2018358]
