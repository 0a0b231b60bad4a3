"""When and where each planted attack happens: one schedule, read by the generator and the README.

Attacks land on fixed systems at fixed Beijing times (scanners at night or lunch, manual attackers
in the afternoon, exfiltration before dawn) so a reader of the labels can find them by eye.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from secaware.samples import scen_net, scen_web
from secaware.samples.clock import at
from secaware.samples.model import Bundle
from secaware.samples.topology import Site


@dataclass(frozen=True)
class Planned:
    scenario: str
    where: str
    day: int
    hhmm: str
    what: str


SCHEDULE: tuple[Planned, ...] = (
    Planned(
        "ssh_bruteforce",
        "620400 白银 by-oa (auth.log, Sangfor)",
        0,
        "01:12",
        "96 failed logins from 61.177.172.140, faillock on root, then success as oaadmin and sudo",
    ),
    Planned(
        "data_exfiltration",
        "620900 酒泉 jq-bdc (Huawei USG, EVE flow)",
        0,
        "02:05",
        "10.9.2.10 uploads ~650 MB to 45.144.30.77:443 in 34 sessions",
    ),
    Planned(
        "offhours_login",
        "621200 陇南 ln-bdc (auth.log, Sangfor)",
        0,
        "03:07",
        "ops logs in with a password from 117.50.40.129, tars /data/bdc/export",
    ),
    Planned(
        "exploit_probe",
        "620700 张掖 zy-portal (nginx, EVE)",
        0,
        "03:10",
        "Struts2 OGNL, ThinkPHP, Log4Shell in UA and URL, Spring4Shell, /.env, /.git/config, Weblogic",
    ),
    Planned(
        "telnet_admin",
        "620800 平凉 pl-gjj (secure, Sangfor)",
        0,
        "10:15",
        "admin logs in over telnet from 10.8.250.31 (again on day 2 15:40)",
    ),
    Planned(
        "sqli",
        "620100 兰州 lz-portal (nginx+XFF, EVE)",
        0,
        "14:21",
        "manual injection: quote probe, or 1=1, UNION SELECT, extractvalue, SLEEP(5), double-encoded",
    ),
    Planned(
        "xss",
        "620300 金昌 jc-portal (Apache combined, EVE)",
        0,
        "16:40",
        "script tag, img onerror, svg onload, javascript: URL, double-encoded",
    ),
    Planned(
        "vuln_scanner", "621100 定西 dx-portal (nginx, EVE)", 0, "20:05", "Acunetix/AWVS burst, 150 requests"
    ),
    Planned(
        "webshell_upload",
        "620100 兰州 lz-zwfw (nginx, EVE)",
        0,
        "22:48",
        "UEditor controller.jsp?action=uploadfile writes a JSP",
    ),
    Planned(
        "webshell_use",
        "620100 兰州 lz-zwfw (nginx, EVE)",
        0,
        "22:49",
        "GET shell.jsp?cmd=whoami/id/cat /etc/passwd, then POSTs with odd sizes (again day 2 02:10)",
    ),
    Planned(
        "port_scan",
        "620600 武威 ww-portal (H3C, kern.log UFW, EVE)",
        0,
        "23:40",
        "193.32.162.84 SYN-scans ~200 ports of 10.6.1.10",
    ),
    Planned(
        "authorized_scan",
        "620100 兰州 lz-portal (nginx)",
        1,
        "01:00",
        "Nessus from the inventory's scanner 10.1.9.9: benign, must not count as an attack",
    ),
    Planned(
        "host_sweep",
        "621200 陇南 (Sangfor)",
        1,
        "02:30",
        "80.94.95.115 probes tcp/22 on all of 61.178.112.0/24",
    ),
    Planned(
        "password_spraying",
        "621000 庆阳 qy-zwfw (auth.log, Hillstone)",
        1,
        "04:20",
        "45.135.232.27 tries 40 account names, 1-2 attempts each",
    ),
    Planned(
        "path_traversal",
        "620300 金昌 jc-portal (Apache combined, EVE)",
        1,
        "09:47",
        "../../etc/passwd, ..%2f, %2e%2e%2f, ..%252f, ....//, ..\\ and the Apache cgi-bin .%2e form",
    ),
    Planned(
        "sqli", "620500 天水 ts-gjj (IIS W3C, EVE)", 1, "10:05", "sqlmap 1.8.3 against Notice.aspx?id (MSSQL)"
    ),
    Planned("vuln_scanner", "620700 张掖 zy-portal (nginx, EVE)", 1, "11:20", "Nikto burst, 170 requests"),
    Planned("vuln_scanner", "621000 庆阳 qy-portal (nginx+XFF, EVE)", 1, "14:33", "Xray burst, 120 requests"),
    Planned(
        "cmd_injection",
        "621100 定西 dx-portal (nginx, EVE)",
        1,
        "15:12",
        ";cat /etc/passwd, |whoami, $(id), &&uname, backticks, ;curl|sh",
    ),
)

CLEAN = ("620200 嘉峪关", "622900 临夏", "623000 甘南")


def plant(bundle: Bundle, sites: tuple[Site, ...], start: date, days: int, seed: int) -> None:
    """Add every planted scenario to `bundle`; with days=1 the second day's events move to the first."""

    def when(day: int, hh: int, mm: int) -> datetime:
        return at(start + timedelta(days=min(day, days - 1)), hh, mm, rng.uniform(0, 59))

    rng = random.Random(f"{seed}:scenarios")
    scen_net.ssh_bruteforce(bundle, sites, when(0, 1, 12), rng)
    scen_net.exfiltration(bundle, sites, when(0, 2, 5), rng)
    scen_net.offhours_login(bundle, sites, when(0, 3, 7), rng)
    scen_web.exploits(bundle, sites, when(0, 3, 10), rng)
    scen_net.telnet_admin(bundle, sites, [when(0, 10, 15), when(1, 15, 40)], rng)
    scen_web.sqli(bundle, sites, when(0, 14, 21), rng)
    scen_web.xss(bundle, sites, when(0, 16, 40), rng)
    scen_web.scanner(
        bundle, sites, when(0, 20, 5), rng, tool="awvs", system="dx-portal", src="47.243.59.11", n=150
    )
    later = when(1, 2, 10) if days > 1 else when(0, 23, 50)
    scen_web.webshell(bundle, sites, when(0, 22, 48), later, rng)
    scen_net.port_scan(bundle, sites, when(0, 23, 40), rng)
    scen_web.scanner(
        bundle,
        sites,
        when(1, 1, 0),
        rng,
        tool="nessus",
        system="lz-portal",
        src="10.1.9.9",
        n=180,
        scenario="authorized_scan",
    )
    scen_net.host_sweep(bundle, sites, when(1, 2, 30), rng)
    scen_net.password_spraying(bundle, sites, when(1, 4, 20), rng)
    scen_web.traversal(bundle, sites, when(1, 9, 47), rng)
    scen_web.sqlmap(bundle, sites, when(1, 10, 5), rng)
    scen_web.scanner(
        bundle, sites, when(1, 11, 20), rng, tool="nikto", system="zy-portal", src="194.26.192.64", n=170
    )
    scen_web.scanner(
        bundle, sites, when(1, 14, 33), rng, tool="xray", system="qy-portal", src="8.218.97.212", n=120
    )
    scen_web.cmdi(bundle, sites, when(1, 15, 12), rng)
