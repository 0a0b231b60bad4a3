"""日志留存 (Cybersecurity Law: network logs kept at least six months; 8.1.5.4 d at level 3): the oldest record kept.

As of the end of the period, the store should hold each system's records back to six months earlier (or
back to when the system went live, if that is less). The verdicts:
- 部分符合: it does (a person still checks the retention and backup settings on the hosts and the store);
- 不符合: the system has been online longer than six months (`online_since`), the store demonstrably spans
  six months (it has been collecting that long, or holds older records of other systems), and this system's
  oldest record is younger than six months: its logs were deleted or never collected;
- 证据不足: online_since is unknown, or the store itself is younger than six months, so a short history
  says nothing about how long the logs are kept at their source;
- 不适用: the system went live after the period.

High risk: the high-risk determination guide (安全审计) treats audit records kept for less than six months,
against the Cybersecurity Law, as high risk.
"""

from __future__ import annotations

import calendar
import datetime as dt

import polars as pl

from secaware.compliance.context import (
    INSUFFICIENT,
    NONCOMPLIANT,
    NOT_APPLICABLE,
    PARTIAL,
    Context,
    Finding,
    when,
)
from secaware.schema import INGEST_LOG

ID = "retention"
TITLE = "日志留存"
LAW = "网络安全法 第二十三条"
CLAUSES = {2: (LAW,), 3: ("8.1.5.4 d", LAW)}
#: Items that are not GB/T 22239 clauses. Article 23 of the Cybersecurity Law as amended in 2025 (article 21,
#: item 3 of the 2016 text) carries the six-month duty unchanged.
LAW_ITEMS = {LAW: "网络运营者应当……采取监测、记录网络运行状态、网络安全事件的技术措施，并按照规定留存相关的网络日志"
                  "不少于六个月。(《中华人民共和国网络安全法》2025 年修正文本第二十三条,2016 年文本第二十一条第三项)"}
MONTHS = 6
#: A system that went live less than six months ago should be kept from then, give or take this.
START_SLACK = dt.timedelta(days=7)


def months_before(when_: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's last day)."""
    years, month0 = divmod(when_.month - 1 - months, 12)
    year, month = when_.year + years, month0 + 1
    return when_.replace(year=year, month=month, day=min(when_.day, calendar.monthrange(year, month)[1]))


def run(ctx: Context) -> list[Finding]:
    end = ctx.end
    cutoff = months_before(end, MONTHS)
    keys = ctx.keymap
    oldest_all = keys["oldest"].min() if keys.height else None
    per_system = keys.drop_nulls("system").sort("oldest").group_by("system", maintain_order=True).first()
    oldest = dict(per_system.select("system", "oldest").iter_rows())
    where = {s: [f"{f}:{n}"] for s, f, n in per_system.select("system", "file", "line_no").iter_rows()}
    collecting_since = None
    if ctx.store.exists(INGEST_LOG):
        collecting_since = ctx.store.scan(INGEST_LOG).select(pl.col("ingested_at").min()).collect().item()
    spans = (collecting_since is not None and collecting_since <= cutoff) or (
        oldest_all is not None and oldest_all <= cutoff)
    store_note = (f"日志平台自 {when(collecting_since)} 起采集" if collecting_since else "日志平台采集起始时间未知") \
        + (f",最早记录 {when(oldest_all)}" if oldest_all else "")
    out = []
    for system in ctx.systems:
        first = oldest.get(system.id)
        since = system.online_since
        live = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
        held = f"该系统最早的留存记录为 {when(first)}" if first else "日志平台中没有该系统的记录"
        evidence = f"{held}；要求留存至 {when(cutoff)}(期末前六个月)；{store_note}" \
            + (f"；系统上线于 {since}" if since else "；资产清单未登记上线日期(online_since)")
        if live is not None and live >= end:
            verdict, reason, to_verify = NOT_APPLICABLE, f"系统于 {since} 上线,晚于评估期", ""
        elif first is not None and first <= cutoff:
            verdict, reason = PARTIAL, "日志平台留存了该系统六个月以上的日志"
            to_verify = "日志平台和源设备的留存、清理(vacuum)与备份设置是否保证持续留存六个月以上"
        elif live is not None and live > cutoff:
            ok = first is not None and first <= live + START_SLACK
            verdict = PARTIAL if ok else INSUFFICIENT
            reason = ("系统上线不足六个月,日志平台留存了上线以来的日志" if ok
                      else "系统上线不足六个月,日志平台未留存上线初期的日志,无法判断")
            to_verify = "上线以来的日志在源设备或日志服务器上的留存情况及留存设置"
        elif live is None:
            verdict, reason = INSUFFICIENT, "系统上线日期未知,无法判断应留存的时长"
            to_verify = "在资产清单中登记 online_since,并核查源设备和日志服务器的留存设置"
        elif spans:
            verdict, reason = NONCOMPLIANT, "系统上线已超过六个月,但日志平台只留存了不足六个月的日志"
            to_verify = "缺失时段的日志是否另有留存(源设备、备份),留存与清理设置"
        else:
            verdict, reason = INSUFFICIENT, "日志平台本身采集不足六个月,无法据此判断留存时长"
            to_verify = "源设备或日志服务器上是否留存六个月以上的日志,日志平台留存设置不少于六个月"
        for clause in CLAUSES[system.level]:
            out.append(Finding(system.id, clause, verdict, reason, evidence=evidence, to_verify=to_verify,
                               examples=where.get(system.id, []), high_risk=verdict == NONCOMPLIANT))
    return out
