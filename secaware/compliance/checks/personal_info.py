"""个人信息保护 (8.1.4.11 b at level 3, 7.1.4.10 b at level 2): personal information travelling in URLs.

A URL (path, query string, or a Referer carrying one) ends up in access logs, proxy and browser histories
and in the Referer sent to third parties, so personal information in it is open to anyone who reads those:
unauthorized access in the item's sense. Found are resident ID numbers that pass the GB 11643 check, mobile
numbers and bank card numbers that pass the Luhn check (see pii.py); worse over plain HTTP (the system's own
log showing port 80). Only masked values are ever written.

High risk: the high-risk determination guide (个人信息保护) treats personal information open to
unauthorized access or leakage as high risk.
"""

from __future__ import annotations

from collections import Counter

import polars as pl

from secaware import privacy as pii
from secaware.compliance.context import (
    INSUFFICIENT,
    NONCOMPLIANT,
    PARTIAL,
    WEB_SOURCES,
    Context,
    Finding,
    listing,
    short,
)

ID = "personal_info"
TITLE = "个人信息保护"
CLAUSES = {2: ("7.1.4.10 b",), 3: ("8.1.4.11 b",)}


def _url() -> pl.Expr:
    return pl.concat_str([pl.col("url_path").fill_null(""),
                          pl.when(pl.col("url_query").is_not_null()).then(pl.lit("?") + pl.col("url_query"))
                          .otherwise(pl.lit(""))])


def run(ctx: Context) -> list[Finding]:
    web = ctx.events(["ts", "src_ip", "url_path", "url_query", "referer", "dst_port", "source", "file", "line_no"],
                     pl.col("event_category") == "web")
    examined = dict(web.filter(pl.col("url_query").is_not_null()).group_by("system").len().collect().iter_rows())
    requests = dict(web.group_by("system").len().collect().iter_rows())
    candidates = (web.with_columns(_url().alias("url"))
                  .filter(pl.col("url").str.contains(pii.CANDIDATE_REGEX)
                          | pl.col("referer").str.contains(pii.CANDIDATE_REGEX).fill_null(False))
                  .collect())
    hits: dict[str, list[dict]] = {}
    for row in candidates.iter_rows(named=True):
        found = pii.find(row["url"]) + pii.find(row["referer"])
        if found:
            hits.setdefault(row["system"], []).append({**row, "found": found})
    out = []
    for system in ctx.systems:
        clause = CLAUSES[system.level][0]
        rows = hits.get(system.id, [])
        own = [r for r in rows if r["source"] in WEB_SOURCES]
        rows = own or rows  # the IDS records the same requests again; count them once
        if rows:
            kinds = Counter(f.kind for r in rows for f in r["found"])
            values = {f.masked for r in rows for f in r["found"]}
            plain = [r for r in rows if r["source"] in WEB_SOURCES and r["dst_port"] == 80]
            params = sorted({p.split("=", 1)[0] for r in rows for p in (r["url_query"] or "").split("&")
                             if pii.find(p)})
            shown = [short(pii.mask_text(r["url"]), 100) for r in sorted(rows, key=lambda r: r["ts"])[:3]]
            reason = (f"{len(rows)} 次请求的 URL 携带个人信息("
                      + "、".join(f"{k} {n} 处" for k, n in kinds.most_common()) + ")"
                      + (f",其中 {len(plain)} 次经明文 HTTP" if plain else ""))
            out.append(Finding(
                system.id, clause, NONCOMPLIANT, reason,
                evidence=f"不同号码 {len(values)} 个(已脱敏)" + (f"；参数 {listing(params)}" if params else "")
                         + "；示例：" + "；".join(shown),
                examples=[f"{r['file']}:{r['line_no']}" for r in sorted(rows, key=lambda r: r["ts"])[:5]],
                to_verify="接口改用 POST 请求体并加密传输、日志中个人信息脱敏,已留存日志中的个人信息如何处置",
                high_risk=True))
        elif examined.get(system.id):
            out.append(Finding(
                system.id, clause, PARTIAL,
                f"{examined[system.id]} 次带参数的请求中未见身份证号、手机号或银行卡号",
                evidence=f"期间内 Web 请求 {requests.get(system.id, 0)} 次,其中带参数 {examined[system.id]} 次",
                to_verify="POST 请求体、接口返回和数据库中个人信息的采集范围、访问控制与脱敏"))
        elif requests.get(system.id):
            out.append(Finding(
                system.id, clause, INSUFFICIENT, "期间内的 Web 请求都不带参数,日志无法说明个人信息的处理",
                evidence=f"期间内 Web 请求 {requests[system.id]} 次",
                to_verify="个人信息的采集范围、访问控制与脱敏"))
    return out
