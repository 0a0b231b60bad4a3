"""管理终端限制 (x.1.4.4 c): administrative logins from outside the system's management ranges.

Administrative logins are the successful network logins on the system's own hosts (sshd, telnet
`login ... FROM`); the inventory's `management` ranges say where administrators may log in from. Local
console logins carry no address and are not judged; authorized scanners are left out.

High risk: the high-risk determination guide (入侵防范, 管理终端) treats administration across an
uncontrolled network without any restriction of the terminals as high risk, so a login from an Internet
address is flagged; one from another internal range stays 不符合 without the flag.
"""

from __future__ import annotations

import polars as pl

from secaware.compliance.context import (
    INSUFFICIENT,
    NONCOMPLIANT,
    PARTIAL,
    Context,
    Finding,
    address_in,
    address_is_public,
    examples,
    listing,
    when,
)

ID = "admin_terminal"
TITLE = "管理终端限制"
CLAUSES = {2: ("7.1.4.4 c",), 3: ("8.1.4.4 c",)}


def run(ctx: Context) -> list[Finding]:
    logins = (ctx.events(["ts", "host", "user", "src_ip", "program", "auth_method", "file", "line_no"],
                         (pl.col("event_action") == "logged_in") & pl.col("src_ip").is_not_null(), own=True)
              .filter(~ctx.is_scanner("src_ip") & ~pl.col("src_ip").is_in(["127.0.0.1", "::1", "localhost"]))
              .collect())
    out = []
    for system in ctx.systems:
        clause = CLAUSES[system.level][0]
        mine = logins.filter(pl.col("system") == system.id).sort("ts")
        if not system.management:
            out.append(Finding(
                system.id, clause, INSUFFICIENT, "资产清单未登记管理网段(management),无法判断登录来源是否受限",
                evidence=f"期间内 {mine.height} 次网络登录,来源 {listing(sorted(set(mine['src_ip'])))}"
                if mine.height else "",
                examples=examples(mine, 3), to_verify="在资产清单中登记管理网段,并核查主机和防火墙的管理地址限制"))
            continue
        if mine.height == 0:
            out.append(Finding(system.id, clause, INSUFFICIENT, "期间内没有网络登录记录",
                               to_verify="主机(hosts.allow、sshd AllowUsers/ListenAddress)及防火墙对管理地址的限制"))
            continue
        nets = system.management
        outside = mine.filter(pl.Series([not address_in(ip, nets) for ip in mine["src_ip"]], dtype=pl.Boolean))
        ranges = "、".join(str(n) for n in nets)
        if outside.height:
            sources = sorted(set(outside["src_ip"]))
            public = [s for s in sources if address_is_public(s)]
            detail = "；".join(f"{when(r['ts'])} {r['host']} 账户 {r['user']} 从 {r['src_ip']} 登录"
                              f"({r['auth_method'] or r['program']})" for r in outside.head(4).iter_rows(named=True))
            out.append(Finding(
                system.id, clause, NONCOMPLIANT,
                f"{outside.height} 次管理登录来自管理网段 {ranges} 之外的 {listing(sources, 3)}"
                + (",含互联网地址" if public else ""),
                evidence=f"期间内 {mine.height} 次网络登录,{outside.height} 次来自管理网段之外：{detail}",
                examples=examples(outside), high_risk=bool(public),
                to_verify="这些登录是否经授权；主机和防火墙是否只允许管理网段访问 SSH/RDP 等管理端口"))
        else:
            out.append(Finding(
                system.id, clause, PARTIAL, f"全部 {mine.height} 次网络登录均来自管理网段 {ranges}",
                evidence=f"来源 {listing(sorted(set(mine['src_ip'])))}", examples=examples(mine, 3),
                to_verify="主机(hosts.allow、sshd AllowUsers/ListenAddress)及防火墙对管理地址的限制配置"))
    return out
