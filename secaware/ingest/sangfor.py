"""Sangfor NGAF / AF messages (source `sangfor`): `fwlog: 日志类型:流量审计, 应用类型:..., ...`.

Sangfor writes Chinese `key:value` pairs separated by `, `, with the log type first. The type
decides what the line is (traffic audit, access control, NAT, IPS/WAF/anti-virus detections,
administrator operations, user authentication), so it is mapped to an English event_action and
to the event category that the detection pipelines select on. Volumes are logged in KB and are
stored in bytes (x1024) so they add up with the other vendors'. The files are often GBK; the
reader has decoded them already.

`系统动作:被记录` ("was recorded") only says the line was logged, not whether the traffic
passed, so it leaves action null; 拒绝/阻断/拦截 are deny, 丢弃 drop, 允许/放行 allow.

Sangfor neither quotes nor escapes values, and some are a user's or a client's text (用户, URL): a
URL ending in `, 系统动作:允许` or a user name holding `, 源IP:10.1.250.7` reads exactly like the pair
it imitates. A real line names each key once, so a key found twice cannot be told from its imitation
and is left empty, with a warning, rather than taken from whichever comes first.
"""

from __future__ import annotations

import re

import polars as pl

from secaware.ingest._netfw import add_warning, blank_null, count, keys_written, once, port, protocol, twice
from secaware.ingest.syslog import MessageFormat

#: 日志类型 -> (event_action, event_category).
_TYPES: dict[str, tuple[str, str]] = {
    "流量审计": ("traffic_audit", "network"),
    "网络访问": ("network_access", "network"),
    "服务控制或应用控制": ("app_control", "network"),
    "网站访问": ("web_access", "network"),
    "NAT日志": ("nat", "network"),
    "IPS防护日志": ("ips", "intrusion_detection"),
    "WAF应用防护日志": ("waf", "intrusion_detection"),
    "DOS攻击日志": ("dos", "intrusion_detection"),
    "僵尸网络日志": ("botnet", "intrusion_detection"),
    "病毒查杀": ("virus", "intrusion_detection"),
    "系统操作": ("admin_operation", "host"),
    "用户认证": ("user_auth", "authentication"),
    "SSL VPN用户行为日志": ("sslvpn", "authentication"),
}

_ACTIONS = {"拒绝": "deny", "阻断": "deny", "拦截": "deny", "阻止": "deny", "丢弃": "drop", "允许": "allow",
            "放行": "allow", "通过": "allow"}
#: Sangfor's 高/中/低 on the stored 1 (high) .. 4 (low) scale.
_SEVERITY = {"高": 1, "中": 2, "低": 3, "信息": 4}

_KEYS: dict[str, str] = {
    "_type": "日志类型", "_src_ip": "源IP", "_src_port": "源端口", "_dst_ip": "目的IP", "_dst_port": "目的端口",
    "_proto": "协议", "_user": "用户", "_user_host": "用户名/主机", "_app_type": "应用类型", "_app_name": "应用名称",
    "_policy": "策略名称", "_sys_action": "系统动作", "_action": "动作", "_up_kb": "上行流量(KB)",
    "_down_kb": "下行流量(KB)", "_total_kb": "总流量(KB)", "_nat_type": "NAT类型", "_nat_ip": "转换后的IP",
    "_nat_port": "转换后的端口", "_attack": "攻击类型", "_vuln": "漏洞名称", "_virus": "病毒名",
    "_sev1": "严重等级", "_sev2": "严重级别", "_url": "URL", "_ip": "IP地址",
}

_IPV4 = r"^\d{1,3}(?:\.\d{1,3}){3}$"


def _pattern(name: str) -> str:
    # Anchored on the `, ` before the key so 动作 does not match inside 系统动作 or 用户 inside
    # 用户名/主机; full-width colons occur in some firmware.
    return rf"(?:^|,)\s*{re.escape(name)}[:：]"


#: Any pair's key, where `_pattern` finds keys (the name its group); and each name's column.
_ANY_KEY = r"(?:^|,)\s*([^,:：]+)[:：]"
_COLUMNS = {name: col for col, name in _KEYS.items()}


def _key(body: pl.Expr, written: pl.Expr, col: str, name: str) -> pl.Expr:
    """The key's value; null when the key is written more than once (one of them is someone's text)."""
    return pl.when(once(written, col)).then(blank_null(body.str.extract(_pattern(name) + "([^,]*)", 1), "(null)"))


def match() -> pl.Expr:
    """Sangfor lines start their message with the log type key."""
    return pl.col("_rest").str.contains("日志类型", literal=True).fill_null(False)


def parse(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Read the Chinese pairs into the event columns."""
    frame = frame.with_columns(pl.col("message").str.strip_chars().alias("_body"))
    body = pl.col("_body")
    frame = frame.with_columns(keys_written(body, _ANY_KEY, _COLUMNS).alias("_written"))
    written = pl.col("_written")
    lf = frame.with_columns(_key(body, written, col, name).alias(col) for col, name in _KEYS.items())
    c = pl.col
    user_host = c("_user_host")
    host_is_ip = user_host.str.contains(_IPV4)
    kb = lambda name: count(c(name)) * 1024  # noqa: E731
    nat_type = c("_nat_type").str.to_lowercase()
    verdict = pl.coalesce(c("_sys_action"), c("_action"))
    # `any` is the rule's wildcard, not an identified application.
    app_name = pl.when(c("_app_name").str.to_lowercase() != "any").then(c("_app_name"))
    app_type = pl.when(c("_app_type").str.to_lowercase() != "any").then(c("_app_type"))
    kind = c("_type").replace_strict({k: v[0] for k, v in _TYPES.items()}, default=c("_type"),
                                     return_dtype=pl.String)
    category = c("_type").replace_strict({k: v[1] for k, v in _TYPES.items()}, default="network",
                                         return_dtype=pl.String)
    return lf.with_columns(
        pl.coalesce(c("_src_ip"), pl.when(host_is_ip).then(user_host), c("_ip")).alias("src_ip"),
        port(c("_src_port")).alias("src_port"),
        c("_dst_ip").alias("dst_ip"),
        port(c("_dst_port")).alias("dst_port"),
        protocol(c("_proto")).alias("protocol"),
        pl.coalesce(c("_user"), pl.when(~host_is_ip).then(user_host)).alias("user"),
        pl.coalesce(app_name, app_type).alias("app"),
        c("_policy").alias("policy"),
        verdict.replace_strict(_ACTIONS, default=None, return_dtype=pl.String).alias("action"),
        kb("_up_kb").alias("src_bytes"),
        kb("_down_kb").alias("dst_bytes"),
        pl.coalesce(kb("_total_kb"), kb("_up_kb") + kb("_down_kb")).alias("bytes"),
        pl.when(nat_type == "snat").then(c("_nat_ip")).alias("nat_src_ip"),
        pl.when(nat_type == "snat").then(port(c("_nat_port"))).alias("nat_src_port"),
        pl.when(nat_type == "dnat").then(c("_nat_ip")).alias("nat_dst_ip"),
        pl.when(nat_type == "dnat").then(port(c("_nat_port"))).alias("nat_dst_port"),
        pl.coalesce(c("_vuln"), c("_virus"), c("_attack")).alias("signature"),
        c("_attack").alias("alert_category"),
        pl.coalesce(c("_sev1"), c("_sev2")).replace_strict(_SEVERITY, default=None, return_dtype=pl.Int8)
        .alias("alert_severity"),
        c("_url").alias("http_request"),
        kind.alias("event_action"),
        category.alias("event_category"),
        add_warning(c("_type").is_null(), "sangfor: log type not readable"),
    ).with_columns(
        add_warning(twice(written), "sangfor: a key appears more than once (text inside a value?); it is left empty"),
    )


FORMAT = MessageFormat(
    "sangfor",
    "Sangfor NGAF fwlog messages (Chinese keys): traffic audit, access control, NAT, IPS/WAF and others",
    match,
    parse,
)
FORMATS: tuple[MessageFormat, ...] = (FORMAT,)
