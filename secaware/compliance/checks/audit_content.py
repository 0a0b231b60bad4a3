"""审计记录内容 (x.1.4.3 b; x.1.3.5 b at the boundary): records carry date and time, user, event type and outcome.

What each field means depends on the record: for logins the account and success/failure; for web
requests the client address (the subject a web server knows), the request and the status; for firewall
sessions the addresses, the port and the allow/deny decision; for IDS alerts the addresses and the
signature. A field counts as missing for a kind of record when fewer than SHARE of the records that should
carry it do (a few unparsable lines do not condemn a log).
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
    listing,
)

ID = "audit_content"
TITLE = "审计记录内容"
CLAUSES = {2: ("7.1.3.5 b", "7.1.4.3 b"), 3: ("8.1.3.5 b", "8.1.4.3 b")}
SHARE = 0.95

_LOGIN = pl.col("event_action").is_in(["logged_in", "login_failed", "account_locked", "sudo", "su", "su_failed",
                                       "sudo_failed"])
_SESSION = pl.col("event_action") != "traffic_audit"
_PORTED = pl.col("protocol").is_null() | pl.col("protocol").is_in(["tcp", "udp"])
#: firewall records decide; IDS flow records only observe, and Sangfor 流量审计 lines report volume
_DECIDES = pl.col("source").is_in(FIREWALL_SOURCES) & (pl.col("event_action") != "traffic_audit")
#: (kind, field in Chinese, records it applies to, the field is there)
REQUIREMENTS: tuple[tuple[str, str, pl.Expr, pl.Expr], ...] = (
    ("authentication", "日期和时间", pl.lit(True), pl.col("ts").is_not_null()),
    ("authentication", "主机", pl.lit(True), pl.col("host").is_not_null()),
    ("authentication", "事件类型", pl.lit(True), pl.col("event_action").is_not_null()),
    ("authentication", "用户", _LOGIN, pl.col("user").is_not_null() & (pl.col("user") != "")),
    ("authentication", "是否成功", pl.col("event_action").is_in(["logged_in", "login_failed"]),
     pl.col("outcome").is_not_null()),
    ("web", "日期和时间", pl.lit(True), pl.col("ts").is_not_null()),
    ("web", "用户(客户端地址)", pl.lit(True), pl.col("src_ip").is_not_null()),
    ("web", "事件类型(请求)", pl.lit(True), pl.coalesce("http_request", "url_path").is_not_null()),
    ("web", "是否成功(状态码)", pl.lit(True), pl.col("http_status").is_not_null()),
    ("network", "日期和时间", pl.lit(True), pl.col("ts").is_not_null()),
    ("network", "源地址", pl.lit(True), pl.col("src_ip").is_not_null()),
    ("network", "目的地址", _SESSION, pl.col("dst_ip").is_not_null()),
    ("network", "目的端口", _SESSION & _PORTED, pl.col("dst_port").is_not_null()),
    ("network", "允许/拒绝", _DECIDES,
     pl.col("action").is_not_null() | (pl.col("event_action") == "app_control")),
    ("intrusion_detection", "日期和时间", pl.lit(True), pl.col("ts").is_not_null()),
    ("intrusion_detection", "源地址", pl.lit(True), pl.col("src_ip").is_not_null()),
    ("intrusion_detection", "目的地址", pl.lit(True), pl.col("dst_ip").is_not_null()),
    ("intrusion_detection", "事件类型(特征)", pl.col("event_action") == "alert", pl.col("signature").is_not_null()),
)
_COLUMNS = ["ts", "host", "event_category", "event_action", "user", "outcome", "src_ip", "dst_ip", "dst_port",
            "protocol", "action", "http_request", "url_path", "http_status", "signature", "source", "file", "line_no"]
HOST_KINDS = ("authentication", "web")
BOUNDARY_KINDS = ("network", "intrusion_detection")


def run(ctx: Context) -> list[Finding]:
    host = _measure(ctx.events(_COLUMNS, pl.col("event_category").is_in(HOST_KINDS), own=True))
    boundary = _measure(ctx.events(_COLUMNS, pl.col("event_category").is_in(BOUNDARY_KINDS)))
    out = []
    for system in ctx.systems:
        boundary_clause, host_clause = CLAUSES[system.level]
        out.append(_judge(system.id, host_clause, host, "主机和应用"))
        out.append(_judge(system.id, boundary_clause, boundary, "边界设备"))
    return out


def _measure(events: pl.LazyFrame) -> tuple[pl.DataFrame, ...]:
    """Per system, kind and source: records that should carry each field and records that do; and a few
    records missing one."""
    aggs, missing_any = [], pl.lit(False)
    for i, (kind, _, applies, present) in enumerate(REQUIREMENTS):
        mine = (pl.col("event_category") == kind) & applies
        aggs += [mine.sum().alias(f"need{i}"), (mine & present).sum().alias(f"have{i}")]
        missing_any = missing_any | (mine & ~present).fill_null(False)
    counts = events.group_by("system", "event_category", "source").agg(pl.len().alias("n"), *aggs).collect()
    lacking = events.filter(missing_any).group_by("system").head(5).collect()
    first = events.group_by("system").head(3).collect()
    return counts, lacking, first


def _judge(sid: str, clause: str, measured: tuple[pl.DataFrame, ...], what: str) -> Finding:
    counts, lacking, first = (m.filter(pl.col("system") == sid) for m in measured)
    if counts.height == 0:
        return Finding(sid, clause, INSUFFICIENT, f"期间内没有{what}的审计记录")
    gaps, seen = [], []
    for row in counts.iter_rows(named=True):
        seen.append(f"{row['source']}({row['event_category']}) {row['n']} 条")
        for i, (kind, name, _, _) in enumerate(REQUIREMENTS):
            need, have = row[f"need{i}"], row[f"have{i}"]
            if kind == row["event_category"] and need and have < SHARE * need:
                gaps.append(f"{row['source']} 记录缺少{name}({need - have}/{need} 条)")
    if gaps:
        return Finding(sid, clause, NONCOMPLIANT, f"{what}审计记录缺少必需内容：{listing(gaps, 4)}",
                       evidence=f"记录：{listing(seen, 6)}；{'；'.join(gaps)}", examples=examples(lacking),
                       to_verify="日志格式配置(如 nginx log_format、rsyslog 模板、设备日志字段)"
                                 "是否包含日期时间、用户、事件类型和结果")
    return Finding(sid, clause, PARTIAL, f"{what}审计记录均含日期时间、用户(或地址)、事件类型和结果",
                   evidence=f"记录：{listing(seen, 6)}", examples=examples(first, 3),
                   to_verify="审计记录还应包含的其他审计相关信息(如会话、进程、对象)及时钟同步")
