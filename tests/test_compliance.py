"""Compliance from a real store: each check on small realistic logs, with a violation and without one.

Every test writes the logs two systems of one prefecture would produce, ingests them, runs the stage
and reads the verdicts back from the compliance table: tw-web at level 3 (clauses 8.1.x.y) and tw-oa at
level 2 (clauses 7.1.x.y).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware import privacy as pii
from secaware.cli import cli
from secaware.compliance import compliance, parse_period
from secaware.compliance.checks import all_checks
from secaware.compliance.items import item, items
from secaware.ingest import ingest
from tests.conftest import read_table

pytestmark = pytest.mark.write_disk

INVENTORY = """
systems:
  - id: tw-web
    name: 测试市人民政府门户网站
    prefecture: "620500"
    level: 3
    logs: ["logs/web/**"]
    hosts: ["10.5.1.10", "10.5.1.11", "tw-web-01", "tw-web-02", "www.tw.gov.cn", "61.178.105.10"]
    management: ["10.5.250.0/24"]
    scanners: ["10.5.9.9"]
    online_since: 2019-06-01
  - id: tw-oa
    name: 测试市协同办公系统
    prefecture: 天水市
    level: 2
    logs: ["logs/oa/**"]
    hosts: ["10.5.2.10", "tw-oa-01", "oa.tw.gov.cn", "61.178.105.20"]
    management: ["10.5.250.0/24"]
    online_since: 2018-03-01
"""

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def syslog(seconds: float, host: str, tag: str, message: str) -> str:
    """rsyslog's RFC 3339 line, as Debian and Ubuntu hosts write auth.log."""
    return f"{at(seconds).astimezone(CST).isoformat(timespec='microseconds')} {host} {tag}: {message}"


def web(seconds: float, ip: str, target: str, *, method: str = "GET", status: int = 200, referer: str = "-",
        ua: str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36") -> str:
    t = at(seconds).astimezone(CST).strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{ip} - - [{t}] "{method} {target} HTTP/1.1" {status} 5120 "{referer}" "{ua}"'


def usg(seconds: float, src: str, dst: str, dport: int, *, sport: int = 40000, policy: str = "DMZ Web Publish") -> str:
    """A Huawei USG session log (written at teardown, local time)."""
    t = at(seconds)
    stamp = t.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
    epoch = int(t.timestamp())
    return (f"{stamp} GS-TS-USG6300-01 %%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4,Protocol=tcp,SourceIP={src},"
            f"DestinationIP={dst},SourcePort={sport},DestinationPort={dport},BeginTime={epoch},EndTime={epoch + 5},"
            f"SendPkts=6,SendBytes=900,RcvPkts=5,RcvBytes=3000,SourceVpnID=0,DestinationVpnID=0,PolicyName={policy}.")


def usg_deny(seconds: float, src: str, dst: str, dport: int) -> str:
    stamp = at(seconds).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
    return (f"{stamp} GS-TS-USG6300-01 %%01POLICY/6/POLICYDENY(l):vsys=public, protocol=6, source-ip={src}, "
            f"source-port=17677, destination-ip={dst}, destination-port={dport}, "
            f"time={stamp.replace('-', '/')}, source-zone=untrust, destination-zone=dmz, application-name=, "
            f"rule-name=default.")


def eve_alert(seconds: float, src: str, dst: str, signature: str) -> str:
    t = at(seconds).astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S.000000+0800")
    return ('{"timestamp":"' + t + '","flow_id":1,"in_iface":"ens1f0","event_type":"alert","src_ip":"' + src
            + '","src_port":40000,"dest_ip":"' + dst + '","dest_port":80,"proto":"TCP","alert":{"action":"allowed",'
            '"gid":1,"signature_id":2006445,"rev":14,"signature":"' + signature + '","category":"Web Application '
            'Attack","severity":1},"app_proto":"http"}')


def cron(host: str, hours: range, offset: float = 60) -> list[str]:
    """What every host writes each hour: a cron session."""
    return [syslog(h * 3600 + offset, host, f"CRON[{4000 + h}]",
                   "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)") for h in hours]


def ssh_login(seconds: float, host: str, user: str, src: str, pid: int, *, minutes: float = 20,
              method: str = "publickey") -> list[str]:
    return [syslog(seconds, host, f"sshd[{pid}]", f"Accepted {method} for {user} from {src} port 51000 ssh2"),
            syslog(seconds + minutes * 60, host, f"sshd[{pid}]", f"Disconnected from user {user} {src} port 51000")]


def failed(seconds: float, host: str, user: str, src: str, *, invalid: bool = False) -> str:
    who = f"invalid user {user}" if invalid else user
    return syslog(seconds, host, f"sshd[{5000 + int(seconds)}]", f"Failed password for {who} from {src} port 52000 ssh2")


def sudo(seconds: float, host: str, user: str, command: str) -> str:
    return syslog(seconds, host, "sudo", f"{user:>8} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND={command}")


def judge(tmp_path: Path, files: dict[str, list[str]], *, inventory: str = INVENTORY,
          period: tuple[dt.datetime | None, dt.datetime | None] | None = None) -> pl.DataFrame:
    """Write the logs (paths under tmp_path/logs), ingest them, run the stage; the compliance table."""
    for name, lines in files.items():
        path = tmp_path / "logs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (tmp_path / "inventory.yaml").write_text(inventory, encoding="utf-8")
    store = tmp_path / "store"
    ingest([tmp_path / "logs"], store, settle_seconds=0)
    compliance(store, inventory=tmp_path / "inventory.yaml", period=period)
    return read_table(store, "compliance")


def verdict(table: pl.DataFrame, system: str, clause: str) -> dict:
    [row] = table.filter((pl.col("system") == system) & (pl.col("clause") == clause)).to_dicts()
    return row


# --- login failure handling (x.1.4.1 b) -----------------------------------------------------------------------

def test_a_login_after_unlocked_failures_is_noncompliant_and_a_lockout_is_supporting_evidence(tmp_path) -> None:
    oa = [failed(600 + 20 * k, "tw-oa-01", "zhangsan", "61.177.172.140") for k in range(12)]
    oa += ssh_login(900, "tw-oa-01", "zhangsan", "61.177.172.140", 7001, method="password")
    # the portal locks root after five failures; nonexistent accounts (which no lockout can protect) do not count
    web_ = [failed(600 + 10 * k, "tw-web-01", "root", "45.135.232.27") for k in range(5)]
    web_ += [syslog(655, "tw-web-01", "sshd[6001]", "pam_faillock(sshd:auth): Consecutive login failures for user "
                                                   "root account temporarily locked")]
    web_ += [failed(700 + 5 * k, "tw-web-01", "oracle", "45.135.232.27", invalid=True) for k in range(20)]
    web_ += [failed(3000, "tw-web-01", "ops", "10.5.250.10")]  # a typo, then the right password
    web_ += ssh_login(3010, "tw-web-01", "ops", "10.5.250.10", 6100, method="password")
    table = judge(tmp_path, {"oa/auth.log": oa, "web/auth.log": web_})

    guessed = verdict(table, "tw-oa", "7.1.4.1 b")
    assert (guessed["verdict"], guessed["high_risk"]) == ("不符合", True)
    assert "失败 12 次后" in guessed["evidence"] and "zhangsan" in guessed["evidence"]
    assert any(e.endswith("oa/auth.log:13") for e in guessed["examples"])  # the successful login
    assert guessed["item"].startswith("b）应具有登录失败处理功能")

    locked = verdict(table, "tw-web", "8.1.4.1 b")
    assert (locked["verdict"], locked["high_risk"]) == ("部分符合", False)
    assert "1 次账户锁定" in locked["evidence"] and "需人工核查" in locked["evidence"]


def test_login_failures_alone_say_nothing(tmp_path) -> None:
    auth = [failed(60, "tw-oa-01", "liqiang", "10.5.250.10"), *ssh_login(70, "tw-oa-01", "liqiang", "10.5.250.10", 7100)]
    table = judge(tmp_path, {"oa/auth.log": auth})
    assert verdict(table, "tw-oa", "7.1.4.1 b")["verdict"] == "证据不足"


# --- remote administration in clear (x.1.4.1 c) and default accounts (x.1.4.2 b) ----------------------------------

def test_telnet_administration_and_an_admin_login_are_noncompliant(tmp_path) -> None:
    oa = [syslog(60, "tw-oa-01", "in.telnetd[3316]", "connect from 10.5.250.31 (10.5.250.31)"),
          syslog(66, "tw-oa-01", "login[3317]", "pam_unix(remote:session): session opened for user admin by "
                                               "LOGIN(uid=0)"),
          syslog(66, "tw-oa-01", "login[3317]", "LOGIN ON pts/1 BY admin FROM 10.5.250.31")]
    web_ = ssh_login(120, "tw-web-01", "ops", "10.5.250.10", 6200)
    fw = [usg(70, "10.5.250.31", "10.5.2.10", 23, policy="Mgmt Access")]
    table = judge(tmp_path, {"oa/secure": oa, "web/auth.log": web_, "firewall/huawei-usg.log": fw})

    telnet = verdict(table, "tw-oa", "7.1.4.1 c")
    # from the management network: a violation, not the guide's high risk of an uncontrolled network
    assert (telnet["verdict"], telnet["high_risk"]) == ("不符合", False)
    assert "in.telnetd" in telnet["evidence"] and "端口 23" in telnet["evidence"]
    assert {e.rsplit("/", 1)[1] for e in telnet["examples"]} >= {"secure:1", "huawei-usg.log:1"}
    assert verdict(table, "tw-oa", "7.1.4.2 b")["verdict"] == "不符合"
    assert "admin" in verdict(table, "tw-oa", "7.1.4.2 b")["reason"]

    ssh_only = verdict(table, "tw-web", "8.1.4.1 c")
    assert ssh_only["verdict"] == "部分符合" and "需人工核查" in ssh_only["evidence"]
    assert verdict(table, "tw-web", "8.1.4.2 b")["verdict"] == "部分符合"


def test_an_admin_page_served_over_plain_http_to_the_internet_is_high_risk(tmp_path) -> None:
    web_ = [web(60, "36.142.9.8", "/admin/login", referer="http://www.tw.gov.cn/"),
            web(70, "36.142.9.8", "/admin/login", method="POST", status=302,
                referer="http://www.tw.gov.cn/admin/login"),
            # the same form over HTTPS, and plain-HTTP links from elsewhere, are fine
            web(80, "36.142.9.9", "/admin/login", method="POST", status=302,
                referer="https://www.tw.gov.cn/admin/login"),
            web(90, "36.142.9.9", "/admin/login", referer="http://www.example.com/links.html")]
    table = judge(tmp_path, {"web/access.log": web_})
    row = verdict(table, "tw-web", "8.1.4.1 c")
    assert (row["verdict"], row["high_risk"]) == ("不符合", True)
    assert "2 次经明文 HTTP 访问管理页面" in row["evidence"]


# --- shared accounts (x.1.4.2 c) and management terminals (x.1.4.4 c) ---------------------------------------------

def test_one_account_open_from_two_workstations_at_once_is_shared(tmp_path) -> None:
    web_ = (ssh_login(60, "tw-web-01", "ops", "10.5.250.21", 6300, minutes=30)
            + ssh_login(600, "tw-web-02", "ops", "10.5.250.22", 6301, minutes=5)
            + ssh_login(4000, "tw-web-01", "root", "10.5.250.10", 6302))
    # one person on the bastion (which several accounts use) and on their own workstation: not evidence
    oa = (ssh_login(60, "tw-oa-01", "wangjun", "10.5.250.10", 7200, minutes=30)
          + ssh_login(300, "tw-oa-01", "wangjun", "10.5.250.23", 7201, minutes=5)
          + ssh_login(5000, "tw-oa-01", "liqiang", "10.5.250.10", 7202))
    table = judge(tmp_path, {"web/auth.log": web_, "oa/auth.log": oa})

    shared = verdict(table, "tw-web", "8.1.4.2 c")
    assert shared["verdict"] == "不符合" and "ops" in shared["reason"]
    assert "10.5.250.21" in shared["evidence"] and "10.5.250.22" in shared["evidence"]
    root = verdict(table, "tw-web", "8.1.4.2 b")
    assert (root["verdict"], root["high_risk"]) == ("不符合", False) and "root" in root["reason"]
    assert verdict(table, "tw-oa", "7.1.4.2 c")["verdict"] == "部分符合"


def test_uid_zero_account_created_is_a_superfluous_account(tmp_path) -> None:
    oa = [*ssh_login(60, "tw-oa-01", "oaadmin", "10.5.250.10", 7300),
          sudo(90, "tw-oa-01", "oaadmin", "/usr/sbin/useradd -o -u 0 -g 0 sysupdate")]
    table = judge(tmp_path, {"oa/auth.log": oa})
    row = verdict(table, "tw-oa", "7.1.4.2 c")
    assert row["verdict"] == "不符合" and "UID 0" in row["reason"]


def test_logins_from_outside_the_management_ranges(tmp_path) -> None:
    web_ = (ssh_login(60, "tw-web-01", "ops", "10.5.30.7", 6400)
            + ssh_login(3600, "tw-web-01", "ops", "117.50.40.129", 6401, method="password")
            + ssh_login(7200, "tw-web-01", "ops", "10.5.250.10", 6402))
    oa = ssh_login(60, "tw-oa-01", "liqiang", "10.5.250.10", 7400)
    table = judge(tmp_path, {"web/auth.log": web_, "oa/auth.log": oa})
    outside = verdict(table, "tw-web", "8.1.4.4 c")
    assert (outside["verdict"], outside["high_risk"]) == ("不符合", True)
    assert "10.5.30.7" in outside["reason"] and "117.50.40.129" in outside["reason"]
    assert verdict(table, "tw-oa", "7.1.4.4 c")["verdict"] == "部分符合"


def test_without_management_ranges_the_terminal_item_cannot_be_judged(tmp_path) -> None:
    inventory = INVENTORY.replace('    management: ["10.5.250.0/24"]\n    online_since: 2018', "    online_since: 2018")
    table = judge(tmp_path, {"oa/auth.log": ssh_login(60, "tw-oa-01", "liqiang", "10.5.30.7", 7500)},
                  inventory=inventory)
    assert verdict(table, "tw-oa", "7.1.4.4 c")["verdict"] == "证据不足"


# --- audit: coverage, content, protection (x.1.4.3 a-d, x.1.3.5) ----------------------------------------------

def test_a_host_that_wrote_nothing_is_not_covered_by_audit(tmp_path) -> None:
    table = judge(tmp_path, {"web/auth.log": cron("tw-web-01", range(3)),
                             "oa/auth.log": cron("tw-oa-01", range(3)),
                             "oa/access.log": [web(60, "10.5.110.3", "/oa/login.do")]})
    silent = verdict(table, "tw-web", "8.1.4.3 a")
    assert silent["verdict"] == "不符合" and "tw-web-02" in silent["reason"] and "www.tw.gov.cn" in silent["reason"]
    assert verdict(table, "tw-oa", "7.1.4.3 a")["verdict"] == "部分符合"


def test_web_records_without_client_or_status_lack_required_content(tmp_path) -> None:
    iis = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
           "#Date: 2026-11-23 02:00:00",
           "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs(User-Agent)"]
    iis += [f"2026-11-23 02:0{k}:00 10.5.1.10 GET /Default.aspx - 443 Mozilla/5.0+(Windows+NT+10.0)"
            for k in range(5)]
    table = judge(tmp_path, {"web/W3SVC1/u_ex261123.log": iis,
                             "oa/access.log": [web(60 * k, "10.5.110.3", "/oa/login.do") for k in range(5)]})
    row = verdict(table, "tw-web", "8.1.4.3 b")
    assert row["verdict"] == "不符合"
    assert "用户(客户端地址)" in row["reason"] and "是否成功(状态码)" in row["reason"]
    assert verdict(table, "tw-oa", "7.1.4.3 b")["verdict"] == "部分符合"


def test_cleared_logs_stopped_audit_and_a_silent_host(tmp_path) -> None:
    web_ = cron("tw-web-01", range(24)) + cron("tw-web-02", range(24), offset=90) + [
        sudo(5000, "tw-web-01", "ops", "/usr/bin/rm -rf /var/log/nginx/access.log.1"),
        sudo(5100, "tw-web-01", "ops", "/usr/bin/systemctl stop auditd"),
        syslog(9000, "tw-web-02", "rsyslogd", '[origin software="rsyslogd" swVersion="8.2312.0"] exiting on '
                                              'signal 15.')]
    # tw-oa-01 stops logging for seven hours while its web log goes on: records are missing
    oa = cron("tw-oa-01", [h for h in range(30) if not 8 <= h < 15])
    oa_web = [web(h * 3600 + 120, "10.5.110.3", "/oa/index.do") for h in range(30)]
    table = judge(tmp_path, {"web/auth.log": web_, "oa/auth.log": oa, "oa/access.log": oa_web})

    cleared = verdict(table, "tw-web", "8.1.4.3 c")
    assert cleared["verdict"] == "不符合" and "清除日志" in cleared["reason"]
    stopped = verdict(table, "tw-web", "8.1.4.3 d")
    assert stopped["verdict"] == "不符合" and "systemctl stop auditd" in stopped["evidence"]
    # rsyslogd's own exit message may be a reboot: left to a person, not judged
    assert "exiting on signal" not in stopped["evidence"] and "exiting on signal" in stopped["to_verify"]
    silent = verdict(table, "tw-oa", "7.1.4.3 c")
    assert silent["verdict"] == "不符合" and "tw-oa-01 自 2026-11-23 09:01:00 UTC" in silent["evidence"]


def test_continuous_logs_support_record_protection(tmp_path) -> None:
    table = judge(tmp_path, {"oa/auth.log": cron("tw-oa-01", range(30))})
    row = verdict(table, "tw-oa", "7.1.4.3 c")
    assert row["verdict"] == "部分符合" and "需人工核查" in row["evidence"]


# --- retention (Cybersecurity Law art. 23; 8.1.5.4 d) ----------------------------------------------------------

OLD = dt.datetime(2026, 3, 20, 2, 0, tzinfo=dt.UTC)


def old_cron(host: str) -> list[str]:
    return [f"{(OLD + dt.timedelta(hours=h)).astimezone(CST).isoformat(timespec='microseconds')} {host} "
            f"CRON[{100 + h}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
            for h in range(3)]


def test_a_system_kept_for_less_than_six_months_in_a_store_that_spans_them(tmp_path) -> None:
    table = judge(tmp_path, {"web/auth.log.1": old_cron("tw-web-01"), "web/auth.log": cron("tw-web-01", range(3)),
                             "oa/auth.log": cron("tw-oa-01", range(3))})
    short = verdict(table, "tw-oa", "网络安全法 第二十三条")
    assert (short["verdict"], short["high_risk"]) == ("不符合", True)
    assert "不少于六个月" in short["item"]
    kept = verdict(table, "tw-web", "8.1.5.4 d")
    assert kept["verdict"] == "部分符合" and "2026-03-20" in kept["evidence"]
    assert verdict(table, "tw-web", "网络安全法 第二十三条")["verdict"] == "部分符合"


def test_a_young_store_or_an_unknown_start_leaves_retention_open(tmp_path) -> None:
    inventory = INVENTORY.replace("    online_since: 2018-03-01\n", "")
    table = judge(tmp_path, {"web/auth.log": cron("tw-web-01", range(3)), "oa/auth.log": cron("tw-oa-01", range(3))},
                  inventory=inventory)
    young = verdict(table, "tw-web", "8.1.5.4 d")
    assert young["verdict"] == "证据不足" and "采集不足六个月" in young["reason"]
    unknown = verdict(table, "tw-oa", "网络安全法 第二十三条")
    assert unknown["verdict"] == "证据不足" and "上线日期未知" in unknown["reason"]


# --- intrusion prevention (x.1.3.3) and access control (x.1.3.2) -----------------------------------------------

def test_attacks_the_ids_did_not_report(tmp_path) -> None:
    web_ = [web(60 + k, "45.77.151.38", "/xxgk/detail", ) for k in range(3)]
    web_ += [web(70 + k, "45.77.151.38", f"/xxgk/detail?id=1%27%20union%20select%20{k},2--") for k in range(3)]
    eve = [eve_alert(71, "45.77.151.38", "61.178.105.10", "ET WEB_SERVER Possible SQL Injection Attempt UNION "
                                                          "SELECT")]
    oa = [web(100, "43.128.72.16", "/download?file=..%2f..%2f..%2fetc%2fpasswd", status=404),
          web(110, "10.5.9.9", "/index.do?q=%3Cscript%3Ealert(1)%3C/script%3E")]  # the authorized scanner
    table = judge(tmp_path, {"web/access.log": web_, "province/eve.json": eve, "oa/access.log": oa})

    seen = verdict(table, "tw-web", "8.1.3.3 a")
    assert seen["verdict"] == "部分符合" and "45.77.151.38(SQL 注入" in seen["evidence"]
    assert verdict(table, "tw-web", "8.1.3.3 d")["verdict"] == "部分符合"
    blind = verdict(table, "tw-oa", "7.1.3.3 a")
    assert (blind["verdict"], blind["high_risk"]) == ("不符合", True)
    assert "43.128.72.16(路径遍历" in blind["evidence"] and "10.5.9.9" not in blind["evidence"]


def test_internet_sessions_to_high_risk_ports_and_over_broad_rules(tmp_path) -> None:
    fw = [usg(60, "193.32.162.84", "10.5.2.10", 3389),
          usg(70, "36.142.212.156", "10.5.1.10", 443), usg(80, "36.142.212.157", "10.5.1.11", 443),
          usg_deny(90, "167.94.138.8", "10.5.1.10", 23)]
    fw += [usg(100 + k, "80.94.95.115", "10.5.1.11", 8000 + k, policy="DMZ Legacy 8000-9000") for k in range(12)]
    table = judge(tmp_path, {"firewall/huawei-usg.log": fw})

    rdp = verdict(table, "tw-oa", "7.1.3.2 a")
    assert (rdp["verdict"], rdp["high_risk"]) == ("不符合", True) and "3389/RDP" in rdp["reason"]
    web_a = verdict(table, "tw-web", "8.1.3.2 a")
    assert web_a["verdict"] == "部分符合" and "拒绝 1 条" in web_a["evidence"]
    broad = verdict(table, "tw-web", "8.1.3.2 b")
    assert broad["verdict"] == "不符合" and "12 个不同端口" in broad["evidence"] and "DMZ Legacy" in broad["evidence"]


# --- personal information (8.1.4.11 b, 7.1.4.10 b) ------------------------------------------------------------

ID_NUMBER = "620102198503121235"  # a made-up number with a valid GB 11643 check character
CARD = "6222021234567890128"  # a made-up UnionPay number that passes the Luhn check


def test_personal_information_in_urls_is_found_and_only_ever_written_masked(tmp_path) -> None:
    web_ = [web(60, "36.142.9.8", f"/api/query?sfzh={ID_NUMBER}&tel=13812345678"),
            web(70, "36.142.9.8", f"/api/card?no={CARD}")]
    # a wrong check character, a card failing Luhn and an upload file named by a timestamp are not personal data
    oa = [web(80, "10.5.110.3", "/api/query?sfzh=620102198503121234&card=6222021234567890127"),
          web(90, "10.5.110.3", "/upload/file/20261123/1763909312842017324.jsp")]
    table = judge(tmp_path, {"web/access.log": web_, "oa/access.log": oa})

    row = verdict(table, "tw-web", "8.1.4.11 b")
    assert (row["verdict"], row["high_risk"]) == ("不符合", True)
    assert "身份证号 1 处" in row["reason"] and "手机号 1 处" in row["reason"] and "银行卡号 1 处" in row["reason"]
    assert "620102********1235" in row["evidence"] and "138****5678" in row["evidence"]
    assert "sfzh" in row["evidence"]
    text = table.select(pl.concat_str(pl.col(pl.String).fill_null(""), separator="|")).to_series().str.join("|")[0]
    for clear in (ID_NUMBER, "13812345678", CARD):
        assert clear not in text
    assert verdict(table, "tw-oa", "7.1.4.10 b")["verdict"] == "部分符合"


@pytest.mark.parametrize(("text", "found"), [
    ("11010519491231002X", ["身份证号:110105********002X"]),  # the standard's own example, check character X
    ("11010519491231002x", ["身份证号:110105********002x"]),
    ("110105194912310021", []),  # wrong check character
    ("990105194912310026", []),  # no such province
    ("110105194913310021", []),  # no 13th month
    ("tel=13912345678&x=1", ["手机号:139****5678"]),
    ("+8613912345678", ["手机号:+86139****5678"]),
    ("12912345678", []),  # 12x is not a mobile prefix
    ("link?url=a13812345678f", []),  # inside a hex token
    ("q=%3D13812345678%26", ["手机号:138****5678"]),  # after a percent-encoded separator
    ("139123456789", []),  # twelve digits
    ("4111111111111111", ["银行卡号:411111******1111"]),
    ("4111111111111112", []),  # fails Luhn
    ("1763909312842017324", []),  # a nanosecond timestamp: no issuer prefix
    ("6222021234567890128", ["银行卡号:622202*********0128"]),
])
def test_personal_numbers_are_validated_and_masked(text: str, found: list[str]) -> None:
    assert [f"{f.kind}:{f.masked}" for f in pii.find(text)] == found


def test_check_character_and_luhn() -> None:
    assert pii.id_check_char("11010519491231002") == "X"
    assert pii.valid_id_number(ID_NUMBER) and not pii.valid_id_number(ID_NUMBER[:-1] + "4")
    assert pii.luhn_ok("79927398713") and not pii.luhn_ok("79927398710")
    assert pii.mask_text(f"?a={ID_NUMBER}&b=1") == "?a=620102********1235&b=1"


# --- the stage -------------------------------------------------------------------------------------------------

def test_every_check_names_real_items_at_both_levels() -> None:
    for check in all_checks():
        assert check.CLAUSES.keys() == {2, 3}, check.ID
        for level, clauses in check.CLAUSES.items():
            for clause in clauses:
                if clause[:1].isdigit():
                    assert clause.startswith("7.1." if level == 2 else "8.1."), (check.ID, clause)
                    item(level, clause)
                else:
                    assert clause in check.LAW_ITEMS
    assert item(3, "8.1.4.11 b").control_point == item(2, "7.1.4.10 b").control_point == "个人信息保护"
    assert item(3, "8.1.5.4 d").control_point == "集中管控"
    assert item(3, "8.1.4.4 c").control_point == "入侵防范"
    assert len(items()) == 116


def test_each_run_replaces_the_table_and_never_claims_compliance(tmp_path) -> None:
    logs = {"web/auth.log": ssh_login(60, "tw-web-01", "ops", "10.5.250.10", 6500),
            "oa/access.log": [web(60, "10.5.110.3", "/oa/login.do")]}
    table = judge(tmp_path, logs)
    assert set(table["verdict"]) <= {"不符合", "部分符合", "证据不足", "不适用"}
    assert table.filter(pl.col("verdict") == "部分符合")["evidence"].str.contains("需人工核查").all()
    per_system = table.group_by("system").len()
    assert dict(per_system.iter_rows()) == {"tw-web": 19, "tw-oa": 16}
    day = parse_period("2026-11-23..2026-11-23", "Asia/Shanghai")
    assert day == (dt.datetime(2026, 11, 23, tzinfo=CST), dt.datetime(2026, 11, 24, tzinfo=CST))

    store, inventory = tmp_path / "store", tmp_path / "inventory.yaml"
    result = CliRunner().invoke(cli, ["compliance", "--store", str(store), "--inventory", str(inventory),
                                      "--period", "2026-11-23..2026-11-23"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("35 verdicts for 2 systems from 2026-11-22T16:00:00+00:00 to "
                                    "2026-11-23T16:00:00+00:00: ")
    again = CliRunner().invoke(cli, ["compliance", "--store", str(store), "--inventory", str(inventory),
                                     "--period", "2026-11-23..2026-11-23", "--json"])
    assert '"rows": 35' in again.output
    # each run replaces the table; the earlier runs are earlier Delta versions
    two_days = CliRunner().invoke(cli, ["compliance", "--store", str(store), "--inventory", str(inventory),
                                        "--period", "2026-11-22..2026-11-23"])
    assert two_days.exit_code == 0
    latest = read_table(store, "compliance")
    assert latest.height == 35 and latest["period_start"].unique().to_list() == [
        dt.datetime(2026, 11, 21, 16, tzinfo=dt.UTC)]
    first = pl.read_delta(str(store / "compliance"), version=0)
    assert first.height == 35 and first["period_end"][0] == dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC)
    bad = CliRunner().invoke(cli, ["compliance", "--store", str(store), "--period", "yesterday"])
    assert bad.exit_code == 2 and "--period" in bad.output


def test_internal_and_scanner_networks_hold_ipv6_ranges() -> None:
    """An inventory's IPv6 range (a /48 of the province's network, a scanner's /60) holds its
    addresses as ingest stores them, compressed; IPv6 ranges used to be left out."""
    import ipaddress

    from secaware.compliance.context import in_networks

    networks = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "203.0.113.9", "2408:8270:399::/48",
                                                  "240e:3cc:e12b:b5f0::/60")]
    frame = pl.DataFrame({"src_ip": ["10.4.1.1", "203.0.113.9", "203.0.113.10", "2408:8270:399::1",
                                     "2408:8270:399:c3be:969c::629a", "2408:8270:39a::1", "240e:3cc:e12b:b5f6::9",
                                     "240e:3cc:e12b:b600::9", None]})
    got = frame.select(in_networks(pl.col("src_ip"), networks))["src_ip"].to_list()
    assert got == [True, True, False, True, True, False, True, False, False]
