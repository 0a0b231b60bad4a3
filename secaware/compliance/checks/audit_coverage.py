"""审计覆盖 (x.1.4.3 a; x.1.3.5 a at the boundary): every host of every system produced logs in the period.

Hosts are the system's names and single addresses in the inventory. A host name is covered by records
whose `host` is that name; a domain (a name with a dot) also by the system's own web logs or records with
that virtual host; a single address by records whose host is that address or own records addressed to it
(IIS `s-ip`, a host firewall's DST). A system with one host name whose own log folder holds records
without a host name (web logs) covers that host by its folder, with a note that only application logs
arrived. Addresses that match no record cannot be told apart from a host name covered under another
name, so they are listed for a person rather than judged.

At the boundary (x.1.3.5 a) the question is whether any firewall or IDS record of traffic to the system
reached the store.
"""

from __future__ import annotations

import polars as pl

from secaware.compliance.context import (
    INSUFFICIENT,
    NONCOMPLIANT,
    PARTIAL,
    Context,
    Finding,
    listing,
)

ID = "audit_coverage"
TITLE = "审计覆盖"
CLAUSES = {2: ("7.1.3.5 a", "7.1.4.3 a"), 3: ("8.1.3.5 a", "8.1.4.3 a")}
BOUNDARY_CATEGORIES = ("network", "intrusion_detection")


def run(ctx: Context) -> list[Finding]:
    own = (ctx.events(["host", "source", "dst_ip", "url_domain", "event_category", "file", "line_no"], own=True)
           .group_by("system", pl.col("host").str.to_lowercase(), "source", "dst_ip",
                     pl.col("url_domain").str.to_lowercase().str.replace(r":\d+$", ""), "event_category")
           .agg(pl.len().alias("n"), pl.format("{}:{}", "file", "line_no").min().alias("example")).collect())
    boundary = (ctx.events(["host", "source", "file", "line_no"], pl.col("event_category").is_in(BOUNDARY_CATEGORIES))
                .group_by("system", "source", "host")
                .agg(pl.len().alias("n"), pl.format("{}:{}", "file", "line_no").min().alias("example")).collect())
    out = []
    for system in ctx.systems:
        boundary_clause, host_clause = CLAUSES[system.level]
        mine = own.filter(pl.col("system") == system.id)
        out.append(_hosts(system, host_clause, mine))
        out.append(_boundary(system, boundary_clause, boundary.filter(pl.col("system") == system.id)))
    return out


def _hosts(system, clause: str, mine: pl.DataFrame) -> Finding:  # type: ignore[no-untyped-def]
    hosts_seen = dict(mine.group_by("host").agg(pl.col("n").sum()).drop_nulls("host").iter_rows())
    domains_seen = set(mine["url_domain"].drop_nulls())
    addressed = set(mine["dst_ip"].drop_nulls())
    hostless = mine.filter(pl.col("host").is_null())
    web = mine.filter(pl.col("event_category") == "web")
    names = [n for n in system.names if "." not in n]
    domains = [n for n in system.names if "." in n]
    # a public single address is the system's published (NAT) address on the border firewall, not a host
    singles = [str(n.network_address) for n in system.networks if n.num_addresses == 1 and n.is_private]
    covered, by_folder, missing, unmatched = [], [], [], []
    for name in names:
        if name in hosts_seen:
            covered.append(f"{name}({hosts_seen[name]} 条)")
        elif len(names) == 1 and hostless.height:
            by_folder.append(name)
        else:
            missing.append(name)
    for name in domains:
        if name in hosts_seen or name in domains_seen or web.height:
            covered.append(name)
        else:
            missing.append(name)
    for addr in singles:
        if addr in hosts_seen or addr in addressed:
            covered.append(addr)
        else:
            unmatched.append(addr)
    notes = []
    if by_folder:
        sources = sorted(set(hostless["source"].drop_nulls()))
        notes.append(f"{listing(by_folder)} 只见其日志目录中的 {listing(sources)} 日志(不含主机名),未见操作系统日志")
    # as many addresses as named hosts, all named hosts logging: the addresses are those hosts' addresses
    if unmatched and (len(singles) > len(names) or missing):
        notes.append(f"地址 {listing(unmatched)} 没有以地址出现的记录,无法与主机名对应")
    to_verify = "审计策略覆盖每个用户、重要用户行为和重要安全事件"
    if notes:
        to_verify += ";上述主机的操作系统和应用日志已启用并送入日志平台"
    examples = sorted(mine.sort("n", descending=True).unique("host", keep="first")["example"].drop_nulls())[:5]
    if mine.height == 0:
        return Finding(system.id, clause, NONCOMPLIANT, "期间内该系统的主机没有产生任何日志",
                       evidence=f"资产清单中的主机 {listing([*names, *domains, *singles])} 均无记录",
                       to_verify="各主机是否开启审计并将日志送入日志平台", high_risk=True)
    evidence = f"有记录：{listing(covered, 8)}" + (f"；{'；'.join(notes)}" if notes else "")
    if missing:
        return Finding(system.id, clause, NONCOMPLIANT,
                       f"主机 {listing(missing)} 期间内没有任何日志,审计未覆盖",
                       evidence=evidence, examples=examples, to_verify=to_verify)
    return Finding(system.id, clause, PARTIAL, "资产清单中的主机期间内均有日志", evidence=evidence,
                   examples=examples, to_verify=to_verify)


def _boundary(system, clause: str, mine: pl.DataFrame) -> Finding:  # type: ignore[no-untyped-def]
    if mine.height == 0:
        return Finding(system.id, clause, INSUFFICIENT, "期间内没有边界防火墙或入侵检测对该系统流量的记录",
                       to_verify="边界防火墙、入侵检测是否开启审计并将日志送入日志平台,是否覆盖该系统的地址")
    parts = [f"{src} {dev or ''} {n} 条".replace("  ", " ") for src, dev, n in
             mine.sort("n", descending=True).select("source", "host", "n").iter_rows()]
    return Finding(system.id, clause, PARTIAL, "边界设备有该系统流量的审计记录",
                   evidence=f"边界记录：{listing(parts, 6)}", examples=sorted(mine["example"])[:5],
                   to_verify="边界设备审计策略覆盖每个用户、重要用户行为和重要安全事件(含拒绝和放行)")
