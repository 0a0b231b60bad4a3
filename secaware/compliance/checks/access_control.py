"""访问控制 (x.1.3.2 a, b): what the border lets in from the Internet to the system.

a) 默认拒绝: sessions from Internet addresses let through to high-risk service or management ports of the
   system (SMB, RDP, databases, Redis, Docker API, telnet, SSH...) show the rules do not deny by default what
   should never face the Internet. Deny records show a rule set that denies something; none at all (while
   sessions are allowed) leaves the question open, since denies may simply not be logged.
b) 规则最小化: one Internet source let through to BROAD_PORTS or more different ports of one host (beyond
   80/443) shows a rule wider than the service it publishes (a legacy port range, an any-port rule).

Authorized scanners are left out. Sangfor `系统动作:被记录` sessions count as let through.

High risk: the high-risk determination guide treats an Internet boundary whose access control fails (any
to any, high-risk ports open to the Internet) as high risk; flagged on a).
"""

from __future__ import annotations

import polars as pl

from secaware.compliance.context import (
    FIREWALL_SOURCES,
    INSUFFICIENT,
    NONCOMPLIANT,
    PARTIAL,
    Context,
    Finding,
    examples,
    firewall_allowed,
    firewall_denied,
    is_public,
    listing,
    service_port,
)

ID = "access_control"
TITLE = "访问控制"
CLAUSES = {2: ("7.1.3.2 a", "7.1.3.2 b"), 3: ("8.1.3.2 a", "8.1.3.2 b")}
#: Ports that must not face the Internet: the services operators' and CNCERT's 高危端口 advisories name
#: (file sharing, remote procedure calls, databases, caches, container APIs) and the management protocols.
HIGH_RISK_PORTS = {
    21: "FTP", 23: "Telnet", 69: "TFTP", 111: "RPC", 135: "RPC", 137: "NetBIOS", 138: "NetBIOS", 139: "NetBIOS",
    445: "SMB", 512: "rexec", 513: "rlogin", 514: "rsh", 873: "rsync", 1433: "MSSQL", 1521: "Oracle",
    2049: "NFS", 2375: "Docker API", 3306: "MySQL", 5432: "PostgreSQL", 5984: "CouchDB", 6379: "Redis",
    9200: "Elasticsearch", 11211: "Memcached", 27017: "MongoDB", 50070: "Hadoop",
    22: "SSH", 3389: "RDP", 5900: "VNC",
}
BROAD_PORTS = 10
_WEB_PORTS = (80, 443)


def run(ctx: Context) -> list[Finding]:
    fw = (ctx.events(["ts", "src_ip", "dst_ip", "dst_port", "nat_dst_port", "protocol", "action", "event_action",
                      "policy", "file", "line_no"], pl.col("source").is_in(FIREWALL_SOURCES))
          .filter(~ctx.is_scanner("src_ip"))
          .with_columns(service_port().alias("port"), firewall_allowed().alias("allowed"),
                        firewall_denied().alias("denied"), is_public(pl.col("src_ip")).alias("internet")))
    counts = (fw.group_by("system").agg(pl.len().alias("n"), pl.col("denied").sum().alias("denied"),
                                        (pl.col("allowed") & pl.col("internet")).sum().alias("inbound"),
                                        pl.col("port").filter(pl.col("allowed") & pl.col("internet")).unique()
                                        .sort().alias("ports"),
                                        pl.format("{}:{}", "file", "line_no").filter(pl.col("denied")).head(3)
                                        .alias("deny_examples"))
              .collect())
    exposed = fw.filter(pl.col("allowed") & pl.col("internet") & pl.col("port").is_in(list(HIGH_RISK_PORTS))) \
        .collect()
    broad = (fw.filter(pl.col("allowed") & pl.col("internet") & ~pl.col("port").is_in(_WEB_PORTS))
             .group_by("system", "src_ip", pl.col("dst_ip").alias("target"))
             .agg(pl.col("port").n_unique().alias("ports"), pl.col("policy").drop_nulls().unique().sort(),
                  pl.col("ts").min(), pl.col("file").first(), pl.col("line_no").first())
             .filter(pl.col("ports") >= BROAD_PORTS).collect())
    out = []
    for system in ctx.systems:
        a, b = CLAUSES[system.level]
        row = counts.filter(pl.col("system") == system.id)
        if row.height == 0:
            out += [Finding(system.id, clause, INSUFFICIENT, "期间内没有防火墙对该系统流量的记录",
                            to_verify="边界访问控制策略(默认拒绝、仅开放业务端口)") for clause in (a, b)]
            continue
        stats = row.row(0, named=True)
        summary = (f"防火墙记录 {stats['n']} 条,其中拒绝 {stats['denied']} 条,"
                   f"放行来自互联网的会话 {stats['inbound']} 条"
                   + (f"(端口 {listing(stats['ports'], 8)})" if stats["ports"] else ""))
        out.append(_default_deny(system.id, a, exposed.filter(pl.col("system") == system.id), stats, summary))
        out.append(_minimal(system.id, b, broad.filter(pl.col("system") == system.id), stats, summary))
    return out


def _default_deny(sid: str, clause: str, exposed: pl.DataFrame, stats: dict, summary: str) -> Finding:
    if exposed.height:
        by_port = exposed.group_by("port").agg(pl.len(), pl.col("src_ip").n_unique().alias("sources")).sort("port")
        ports = [f"{p}/{HIGH_RISK_PORTS[p]}({n} 次,{s} 个来源)" for p, n, s in by_port.iter_rows()]
        return Finding(sid, clause, NONCOMPLIANT, f"互联网可访问该系统的高危或管理端口 {listing(ports, 4)}",
                       evidence=f"{summary}；放行到高危端口的会话：{listing(ports, 6)}；来源 "
                                f"{listing(sorted(set(exposed['src_ip'])), 4)}",
                       examples=examples(exposed),
                       to_verify="互联网边界策略是否默认拒绝,高危和管理端口是否仅对管理网段或 VPN 开放", high_risk=True)
    if stats["denied"]:
        return Finding(sid, clause, PARTIAL, "未见互联网访问高危端口被放行,且有拒绝记录",
                       evidence=summary, examples=list(stats["deny_examples"]),
                       to_verify="访问控制规则默认拒绝、仅开放业务必需端口")
    return Finding(sid, clause, INSUFFICIENT, "未见任何拒绝记录,无法确认策略默认拒绝(也可能未开启拒绝日志)",
                   evidence=summary, to_verify="访问控制规则是否默认拒绝、拒绝日志是否开启")


def _minimal(sid: str, clause: str, broad: pl.DataFrame, stats: dict, summary: str) -> Finding:
    if broad.height:
        parts = [f"{r['src_ip']} 被放行到 {r['target']} 的 {r['ports']} 个不同端口"
                 + (f"(策略 {listing(r['policy'], 3)})" if r["policy"] else "")
                 for r in broad.sort("ports", descending=True).head(3).iter_rows(named=True)]
        return Finding(sid, clause, NONCOMPLIANT, "存在范围过宽的放行规则,互联网来源可访问同一主机的大量端口",
                       evidence=f"{summary}；" + "；".join(parts), examples=examples(broad),
                       to_verify="删除多余或过宽的访问控制规则(如端口段、any 规则),只开放发布的业务端口")
    if stats["inbound"]:
        return Finding(sid, clause, PARTIAL, "来自互联网的放行会话只到少数业务端口",
                       evidence=summary, to_verify="访问控制规则是否最小化、有无多余或失效规则")
    return Finding(sid, clause, INSUFFICIENT, "期间内没有来自互联网的放行会话", evidence=summary,
                   to_verify="访问控制规则是否最小化、有无多余或失效规则")
