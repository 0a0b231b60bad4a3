"""远程管理防窃听 (x.1.4.1 c): administration over protocols that send the password in clear.

Evidence, per system:
- its hosts' logs: telnet, rlogin/rsh/rexec and FTP daemons accepting logins (in.telnetd `connect from`,
  `login` sessions from a remote address, vsftpd/proftpd logins);
- firewall sessions let through to its addresses on telnet (23), FTP (21) or rexec/rlogin/rsh (tcp 512-514),
  or identified by the firewall as those applications;
- administration pages fetched over plain HTTP: its own web logs showing port 80 for an admin path, or a
  Referer `http://<its own domain>/...` on an admin path (the page itself was served in clear). IDS records
  on port 80 are not used: sensors often sit behind the SSL offload (as the provincial one does), so port 80
  there does not mean the administrator's browser spoke plain HTTP.

High risk: the high-risk determination guide (身份鉴别, 鉴别信息明文传输) treats plaintext remote
administration across an uncontrolled network as high risk; a finding is flagged when a source is an
Internet address. From inside the management network it stays 不符合 but not high risk.
"""

from __future__ import annotations

import re

import polars as pl

from secaware.compliance.context import (
    FIREWALL_SOURCES,
    INSUFFICIENT,
    NONCOMPLIANT,
    PARTIAL,
    WEB_SOURCES,
    Context,
    Finding,
    address_is_public,
    examples,
    firewall_allowed,
    listing,
    service_port,
    when,
)

ID = "remote_admin"
TITLE = "远程管理防窃听"
CLAUSES = {2: ("7.1.4.1 c",), 3: ("8.1.4.1 c",)}
PLAIN_DAEMONS = ("in.telnetd", "telnetd", "in.rlogind", "rlogind", "in.rshd", "rshd", "in.rexecd", "rexecd")
FTP_DAEMONS = ("vsftpd", "proftpd", "pure-ftpd", "in.ftpd", "ftpd", "wu-ftpd")
PLAIN_APPS = ("telnet", "ftp", "rsh", "rlogin", "rexec")
ADMIN_PATH = (r"(?i)^/(?:[^?]*/)?(?:admin|administrator|manager|manage|console|wp-admin|wp-login\.php|phpmyadmin|"
              r"houtai|guanli|sysadmin|system/login)(?:[/.?]|$)")


def _program() -> pl.Expr:
    return pl.col("program").str.replace(r"[\[(].*$", "")


def run(ctx: Context) -> list[Finding]:
    hosts = ctx.events(
        ["ts", "host", "program", "event_action", "src_ip", "user", "file", "line_no", "auth_method", "source"],
        (pl.col("event_category") == "authentication") | _program().is_in(FTP_DAEMONS), own=True,
    ).filter(~ctx.is_scanner("src_ip"))
    daemon = (_program().is_in(PLAIN_DAEMONS) | (pl.col("event_action") == "telnet_connect")
              | ((_program() == "login") & (pl.col("event_action") == "logged_in") & pl.col("src_ip").is_not_null()))
    plain_host = hosts.filter(daemon.fill_null(False)).collect()
    ftp = ctx.events(["ts", "host", "program", "src_ip", "file", "line_no", "message"],
                     _program().is_in(FTP_DAEMONS)
                     & pl.col("message").str.contains(r"(?i)ok login|login successful|logged in"), own=True).collect()
    ssh = hosts.filter((pl.col("event_action") == "logged_in") & (pl.col("source") == "sshd")).collect()

    port = service_port()
    plain_port = port.is_in([21, 23]) | (port.is_between(512, 514) & (pl.col("protocol").fill_null("tcp") == "tcp"))
    fw = (ctx.events(["ts", "src_ip", "dst_ip", "dst_port", "nat_dst_port", "protocol", "app", "action",
                      "event_action", "policy", "file", "line_no"], pl.col("source").is_in(FIREWALL_SOURCES))
          .filter(firewall_allowed() & (plain_port | pl.col("app").str.to_lowercase().is_in(PLAIN_APPS))
                  & ~ctx.is_scanner("src_ip"))
          .collect())

    web = (ctx.events(["ts", "src_ip", "url_path", "dst_port", "referer", "http_method", "http_status", "source",
                       "file", "line_no"],
                      pl.col("source").is_in(WEB_SOURCES) & pl.col("url_path").str.contains(ADMIN_PATH))
           .filter((pl.col("dst_port") == 80) | pl.col("referer").str.starts_with("http://"))
           .collect())

    out = []
    for system in ctx.systems:
        sid = system.id
        clause = CLAUSES[system.level][0]
        mine = pl.col("system") == sid
        p_host, p_ftp, p_fw = plain_host.filter(mine), ftp.filter(mine), fw.filter(mine)
        p_web = web.filter(mine).filter(pl.col("dst_port").eq(80).fill_null(False)
                                        | pl.col("referer").map_elements(lambda r, s=system: _own_http(r, s.names),
                                                                         return_dtype=pl.Boolean).fill_null(False))
        parts, sources = [], set()
        if p_host.height:
            sources |= set(p_host["src_ip"].drop_nulls())
            users = sorted(set(p_host["user"].drop_nulls()))
            progs = sorted(set(p_host["program"].drop_nulls()))
            parts.append(f"主机日志 {p_host.height} 条明文远程登录记录({listing(progs)};来源 "
                         f"{listing(sorted(set(p_host['src_ip'].drop_nulls())))};账户 {listing(users) or '未记录'};"
                         f"首次 {when(p_host['ts'].min())})")
        if p_ftp.height:
            sources |= set(p_ftp["src_ip"].drop_nulls())
            parts.append(f"FTP 登录 {p_ftp.height} 次({listing(sorted(set(p_ftp['host'].drop_nulls())))})")
        if p_fw.height:
            sources |= set(p_fw["src_ip"].drop_nulls())
            ports = sorted({int(p) for p in p_fw.select(service_port()).to_series().drop_nulls()})
            parts.append(f"防火墙放行 {p_fw.height} 个到 telnet/FTP/r 系列端口的会话(端口 {listing(ports)};来源 "
                         f"{listing(sorted(set(p_fw['src_ip'].drop_nulls())))})")
        if p_web.height:
            sources |= set(p_web["src_ip"].drop_nulls())
            paths = sorted(set(p_web["url_path"].drop_nulls()))
            parts.append(f"{p_web.height} 次经明文 HTTP 访问管理页面({listing(paths, 3)})")
        if parts:
            public = sorted(s for s in sources if address_is_public(s))
            reason = "远程管理使用明文协议,鉴别信息可被窃听"
            if public:
                reason += f"(来源含互联网地址 {listing(public, 3)})"
            rows = pl.concat([f.select("ts", "file", "line_no") for f in (p_host, p_ftp, p_fw, p_web) if f.height])
            out.append(Finding(sid, clause, NONCOMPLIANT, reason, evidence="；".join(parts),
                               examples=examples(rows),
                               to_verify="停用 telnet/FTP/rsh 服务,改用 SSH 或 HTTPS,管理页面强制 HTTPS",
                               high_risk=bool(public)))
        elif ssh.filter(mine).height:
            n = ssh.filter(mine).height
            out.append(Finding(sid, clause, PARTIAL, "远程管理登录只见 SSH(加密),未见明文协议",
                               evidence=f"期间内 {n} 次 SSH 登录;未见 telnet/FTP/rsh 登录、放行会话"
                                        "或明文 HTTP 管理页面",
                               examples=examples(ssh.filter(mine), 3),
                               to_verify="telnet/FTP 服务已关闭、Web 管理界面仅允许 HTTPS、"
                                         "网络设备仅允许 SSH/HTTPS 管理"))
        else:
            out.append(Finding(sid, clause, INSUFFICIENT, "期间内没有远程管理登录记录",
                               to_verify="远程管理方式(SSH/HTTPS)及明文管理服务是否关闭"))
    return out


def _own_http(referer: str | None, names: tuple[str, ...]) -> bool:
    """The Referer is a plain-HTTP page of the system's own domain."""
    m = re.match(r"^http://([^/:?#]+)", referer or "", flags=re.I)
    return bool(m) and m.group(1).lower() in names
