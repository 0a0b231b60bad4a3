"""入侵防范 (x.1.3.3): attacks visible in the system's web or firewall logs that no IDS/WAF record reports.

Attacks are taken from
- the alerts table (detect's Sigma rules) on web and firewall events of the system, when detect has run;
- a small set of unmistakable attack indicators in the system's own web logs (SQL injection, traversal,
  script injection, command injection, known exploit paths, scanner user agents), so the check also works
  on a store that was never run through detect;
- port scans in the firewall logs: one source touching SCAN_PORTS or more ports of the system, at least one
  of them let through (a scan the firewall stopped entirely was prevented, which is what the item asks).
An attack counts as reported when an IDS/WAF record (intrusion_detection events: Suricata alerts,
firewall IPS/WAF logs) of the same system names its source. Authorized scanners are left out.

- 不符合: attacks were seen and the IDS/WAF reported none of their sources (blind, or absent);
- 部分符合: everything seen was reported, or some sources were (the others are listed for a person);
- 证据不足: no attack and no IDS record, the logs cannot tell whether detection exists.
At level 3, d) asks alerts to record source, type, target and time: judged on the IDS records.

High risk: the high-risk determination guide (入侵防范) treats key network nodes facing the Internet without
any means to detect or stop attacks from outside as high risk; flagged when an unreported source is an
Internet address.
"""

from __future__ import annotations

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
)
from secaware.schema import EVENTS

ID = "intrusion"
TITLE = "入侵防范"
CLAUSES = {2: ("7.1.3.3 a",), 3: ("8.1.3.3 a", "8.1.3.3 d")}
SCAN_PORTS = 20
#: Sensors whose records (flows, HTTP transactions, alerts) show they watch a system's traffic.
IDS_SOURCES = ("suricata",)
_SP = r"(?:\s|\+|%20|%09|/\*.*?\*/)"
#: (kind, pattern): unmistakable attack text in a request line or user agent, as logged (also percent-encoded).
INDICATORS: tuple[tuple[str, str], ...] = (
    ("SQL 注入", rf"union{_SP}+(?:all{_SP}+)?select|(?:'|%27){_SP}*(?:or|and){_SP}+['%0-9a-z]+{_SP}*(?:=|%3d)|"
                r"extractvalue\(|extractvalue%28|updatexml\(|sleep\(\d|sleep%28\d|benchmark\(|waitfor"
                rf"{_SP}+delay|information_schema"),
    ("路径遍历", r"(?:\.\.|%2e%2e|%252e%252e|\.%2e|%2e\.)(?:/|\\|%2f|%5c|%252f)|\.\.\.\.//|/etc/passwd|win\.ini"),
    ("跨站脚本", r"<script|%3cscript|<svg|%3csvg|<img[^>]*onerror|%3cimg|onerror(?:=|%3d)|onload(?:=|%3d)|"
                r"javascript(?::|%3a)"),
    ("命令注入", rf"(?:;|%3b|\||%7c|&&|%26%26|\$\(|%24%28|`|%60){_SP}*(?:cat|id|whoami|uname|wget|curl|sh|bash|nc|"
                r"ping)\b"),
    ("漏洞利用", r"\$\{jndi:|%24%7bjndi|ognl|memberaccess|class\.module\.classloader|/\.env(?:$|\?)|/\.git/config|"
                r"invokefunction|call_user_func|think\\\\app|/wls-wsat/|/_async/asyncresponseservice|"
                r"\{\{\d+\*\d+\}\}|%7b%7b\d+\*\d+%7d%7d"),
    ("扫描器", r"sqlmap|nikto|acunetix|wvs|netsparker|appscan|xray|nuclei|dirbuster|gobuster|masscan|zgrab|"
              r"w3af|openvas|nessus"),
)


def _indicator() -> pl.Expr:
    text = pl.concat_str([pl.col("url_path").fill_null(""), pl.col("url_query").fill_null(""),
                          pl.col("user_agent").fill_null("")], separator=" ").str.to_lowercase()
    kind: pl.Expr = pl.lit(None, dtype=pl.String)
    for name, pattern in reversed(INDICATORS):
        kind = pl.when(text.str.contains(pattern)).then(pl.lit(name)).otherwise(kind)
    return kind


def run(ctx: Context) -> list[Finding]:
    web = (ctx.events(["ts", "src_ip", "url_path", "url_query", "user_agent", "file", "line_no"],
                      pl.col("source").is_in(WEB_SOURCES), own=True)
           .with_columns(_indicator().alias("kind")).filter(pl.col("kind").is_not_null() & ~ctx.is_scanner("src_ip"))
           .select("system", "ts", "src_ip", "kind", "file", "line_no").collect())
    alerts = _alerts(ctx)
    fw = ctx.events(["ts", "src_ip", "dst_port", "nat_dst_port", "action", "event_action", "file", "line_no"],
                    pl.col("source").is_in(FIREWALL_SOURCES)).filter(~ctx.is_scanner("src_ip"))
    scans = (fw.group_by("system", "src_ip")
             .agg(service_port().n_unique().alias("ports"), firewall_allowed().sum().alias("allowed"),
                  pl.col("ts").min(), pl.col("file").first(), pl.col("line_no").first())
             .filter((pl.col("ports") >= SCAN_PORTS) & (pl.col("allowed") > 0))
             .select("system", "ts", "src_ip", pl.format("端口扫描({} 个端口)", "ports").alias("kind"), "file",
                     "line_no").collect())
    attacks = pl.concat([web, scans, alerts.cast(web.schema) if alerts.height else web.clear()])
    ids = ctx.events(["ts", "src_ip", "dst_ip", "signature", "alert_category", "event_action", "source", "file",
                      "line_no"], pl.col("event_category") == "intrusion_detection").collect()
    sensed = dict(ctx.events(["source"], pl.col("source").is_in(IDS_SOURCES)).group_by("system").len()
                  .collect().iter_rows())
    out = []
    for system in ctx.systems:
        clauses = CLAUSES[system.level]
        mine = attacks.filter(pl.col("system") == system.id)
        my_ids = ids.filter(pl.col("system") == system.id)
        out.append(_detection(system.id, clauses[0], mine, my_ids, sensed.get(system.id, 0)))
        if len(clauses) > 1:
            out.append(_record_content(system.id, clauses[1], my_ids))
    return out


def _alerts(ctx: Context) -> pl.DataFrame:
    """detect's alerts on the system's web requests, and on firewall sessions the firewall let through (a scan
    or sweep it denied was prevented, which is what the item asks for)."""
    alerts = ctx.alerts()
    if alerts.height == 0:
        return alerts
    alerts = alerts.filter(pl.col("source").is_in([*WEB_SOURCES, *FIREWALL_SOURCES])
                           & pl.col("system").is_not_null() & pl.col("src_ip").is_not_null())
    ids = alerts.filter(pl.col("source").is_in(FIREWALL_SOURCES))["event_id"].drop_nulls().unique().implode()
    passed = (ctx.store.scan(EVENTS).filter(pl.col("event_id").is_in(ids))
              .filter(firewall_allowed()).select("event_id").collect())
    alerts = alerts.filter(pl.col("source").is_in(WEB_SOURCES) | pl.col("event_id").is_in(passed["event_id"].implode()))
    return alerts.select("system", "ts", "src_ip", pl.concat_str([pl.lit("告警:"), "rule_title"]).alias("kind"),
                         "file", "line_no")


def _detection(sid: str, clause: str, attacks: pl.DataFrame, ids: pl.DataFrame, sensed: int) -> Finding:
    reported_by = set(ids["src_ip"].drop_nulls())
    sources = attacks.group_by("src_ip").agg(pl.len().alias("n"), pl.col("kind").unique().sort(),
                                             pl.col("ts").min()).sort("ts")
    seen = sources.filter(pl.col("src_ip").is_in(list(reported_by)))
    missed = sources.filter(~pl.col("src_ip").is_in(list(reported_by)))
    if ids.height:
        ids_note = f"IDS/WAF 对该系统的告警 {ids.height} 条" + (f",记录该系统的流量 {sensed} 条" if sensed else "")
    elif sensed:
        ids_note = f"IDS 记录了该系统的流量 {sensed} 条,但没有告警"
    else:
        ids_note = "没有任何 IDS/WAF 对该系统的记录"

    def describe(rows: pl.DataFrame) -> str:
        return "；".join(f"{r['src_ip']}({listing(r['kind'], 3)},{r['n']} 次)"
                        for r in rows.head(5).iter_rows(named=True))

    if sources.height == 0:
        if ids.height or sensed:
            return Finding(sid, clause, PARTIAL, "IDS/WAF 在监测该系统,期间未见其未报告的攻击",
                           evidence=ids_note, examples=examples(ids, 3),
                           to_verify="IDS/WAF 部署在关键网络节点、规则库及时更新、覆盖互联网和内部发起的攻击")
        return Finding(sid, clause, INSUFFICIENT, "期间内未见攻击,也没有 IDS/WAF 记录,无法判断是否具备检测能力",
                       to_verify="关键网络节点是否部署 IDS/IPS/WAF 并将日志送入日志平台")
    if seen.height == 0:
        public = [s for s in missed["src_ip"] if address_is_public(s)]
        return Finding(sid, clause, NONCOMPLIANT,
                       f"Web/防火墙日志中可见 {missed.height} 个攻击来源,IDS/WAF 均未报告({ids_note})",
                       evidence=f"未被报告的攻击来源：{describe(missed)}；{ids_note}",
                       examples=examples(attacks.filter(pl.col("src_ip").is_in(missed["src_ip"].to_list()))),
                       to_verify="关键网络节点的 IDS/IPS/WAF 部署位置、检测策略和规则库",
                       # the guide's high risk is no means of detection at all, not a sensor that missed
                       high_risk=bool(public) and not ids.height and not sensed)
    note = f"未被报告的攻击来源：{describe(missed)}" if missed.height else ""
    return Finding(sid, clause, PARTIAL,
                   f"Web/防火墙日志中可见的 {sources.height} 个攻击来源中 {seen.height} 个被 IDS/WAF 报告",
                   evidence=f"已报告：{describe(seen)}" + (f"；{note}" if note else "") + f"；{ids_note}",
                   examples=examples(ids.filter(pl.col("src_ip").is_in(seen["src_ip"].to_list())), 3),
                   to_verify="IDS/WAF 检测策略和规则库" + (f"；{note} 为何未被检测" if note else ""))


def _record_content(sid: str, clause: str, ids: pl.DataFrame) -> Finding:
    alerts = ids.filter(pl.col("event_action") == "alert") if ids.height else ids
    if alerts.height == 0:
        return Finding(sid, clause, INSUFFICIENT, "期间内没有该系统的入侵告警记录",
                       to_verify="入侵检测告警记录的内容(攻击源 IP、类型、目标、时间)及严重入侵事件的报警方式")
    fields = {"攻击源IP": "src_ip", "攻击类型": "signature", "攻击目标": "dst_ip", "攻击时间": "ts"}
    lacking = {name: alerts[col].null_count() for name, col in fields.items() if alerts[col].null_count()}
    if lacking:
        incomplete = alerts.filter(pl.any_horizontal(pl.col(c).is_null() for c in fields.values()))
        missing = "；".join(f"缺少{k} {v} 条" for k, v in lacking.items())
        return Finding(sid, clause, NONCOMPLIANT, "入侵告警记录缺少" + "、".join(lacking),
                       evidence=f"{alerts.height} 条告警中：{missing}",
                       examples=examples(incomplete), to_verify="IDS/IPS 日志输出格式")
    sigs = alerts.group_by("signature").len().sort("len", descending=True)
    return Finding(sid, clause, PARTIAL, "入侵告警记录均含攻击源 IP、攻击类型、攻击目标和攻击时间",
                   evidence=f"{alerts.height} 条告警,特征 "
                            + listing([f"{s}({n})" for s, n in sigs.iter_rows()], 3),
                   examples=examples(alerts, 3), to_verify="发生严重入侵事件时的报警方式(短信、邮件、平台)及响应")
