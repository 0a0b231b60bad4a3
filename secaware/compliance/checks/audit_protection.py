"""审计记录保护 (x.1.4.3 c, and d at level 3; x.1.3.5 c at the boundary): logs cleared, audit stopped, or gone silent.

- Clearing: commands that delete or empty logs and shell history (`history -c`, `rm ~/.bash_history`,
  `> /var/log/...`, `journalctl --vacuum`, `auditctl -D`, `wevtutil cl`...), seen in sudo records and any
  host message. Evidence against c) 避免受到未预期的删除.
- Stopping: commands that stop or disable auditd, rsyslog, syslog-ng or journald, or `auditctl -e 0`.
  Evidence against d) 防止未经授权的中断 (level 3; at level 2 it counts under c). A daemon's own exit
  message (`rsyslogd ... exiting on signal 15`, `The audit daemon is exiting`) may just be a reboot, so it is
  listed for a person to check rather than judged.
- Silence: a host's log stops for longer than max(MIN_GAP, GAP_FACTOR x its usual interval) while the same
  system's other logs (other hosts, its web log) go on, so the system was up and the records are missing.
  A silence nothing else corroborates (the whole system quiet) is listed for a person instead. The same
  applies at the boundary to the firewall or IDS that carries the system's traffic.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from secaware.compliance.context import (
    FIREWALL_SOURCES,
    HOST_SOURCES,
    INSUFFICIENT,
    NONCOMPLIANT,
    PARTIAL,
    Context,
    Finding,
    examples,
    listing,
    short,
    when,
)

ID = "audit_protection"
TITLE = "审计记录保护"
CLAUSES = {2: ("7.1.3.5 c", "7.1.4.3 c"), 3: ("8.1.3.5 c", "8.1.4.3 c", "8.1.4.3 d")}
MIN_GAP = dt.timedelta(hours=3)
#: Border devices whose logs carry a system's traffic (host firewalls' logs are part of the host's own stream).
BOUNDARY_SOURCES = tuple(s for s in (*FIREWALL_SOURCES, "suricata") if s != "iptables")
GAP_FACTOR = 4
#: Fewer records than this in the period give no usual interval to compare a silence with.
MIN_RECORDS = 20
_LOGS = r"(?:/var/log|\.(?:bash|zsh|sh|ash)_history|\b[wb]tmp\b|\blastlog\b|/var/audit|/var/adm)"
CLEARING = "|".join((
    r"(?i)\bhistory\s+-[a-z]*c",
    r"\b(?:rm|shred|unlink|truncate|wipe|srm)\b[^;|&\n]*" + _LOGS,
    r"(?:>|\bcat\s+/dev/null\s*>|\becho\s*[^;|&\n]*>)\s*[^;|&\n]*" + _LOGS,
    r"\bunset\s+HISTFILE\b|\bHISTFILE=/dev/null|\bHISTSIZE=0\b|\bset\s+\+o\s+history\b",
    r"\bln\s+-[sf]+\s+/dev/null\s+\S*history",
    r"\bjournalctl\b[^;|&\n]*--vacuum",
    r"\bauditctl\s+-D\b",
    r"\bwevtutil(?:\.exe)?\s+(?:cl|clear-log)\b|\bClear-EventLog\b|audit log was cleared|log file was cleared",
))
_DAEMONS = r"(?:auditd|audit|rsyslogd?|syslog-ng|syslog|systemd-journald|journald)\b"
STOPPING = "|".join((
    r"(?i)\b(?:systemctl|service)\b[^;|&\n]*\b(?:stop|disable|mask|kill)\b[^;|&\n]*\b" + _DAEMONS,
    r"\bservice\s+" + _DAEMONS + r"\s+stop\b",
    r"\bauditctl\s+-e\s*0\b",
    r"\b(?:kill|pkill|killall)\b[^;|&\n]*\b" + _DAEMONS,
    r"/etc/init\.d/" + _DAEMONS + r"\s+stop\b",
))
#: Every pattern above mentions one of these words.
KEYWORDS = (r"(?i)history|/var/log|audit|syslog|journal|wevtutil|eventlog|histfile|histsize|wtmp|btmp|lastlog|"
            r"/var/adm|audit log|log file")
DAEMON_EXIT = (r"(?i)rsyslogd.*exiting on signal|The audit daemon is exiting|audit_enabled=0|"
               r"Stopping (?:System Logging Service|Security Auditing Service|Journal Service)|"
               r"Stopped (?:System Logging Service|Security Auditing Service)")


def run(ctx: Context) -> list[Finding]:
    # a plain keyword test narrows the messages first: the full patterns are slow on long lines
    tamper = (ctx.events(["ts", "host", "user", "message", "file", "line_no"],
                         pl.col("source").is_in(HOST_SOURCES) & pl.col("message").str.contains(KEYWORDS), own=True)
              .collect()
              .filter(pl.col("message").str.contains(f"{CLEARING}|{STOPPING}|{DAEMON_EXIT}"))
              .with_columns(pl.col("message").str.contains(CLEARING).alias("clearing"),
                            pl.col("message").str.contains(STOPPING).alias("stopping")))
    activity = (ctx.events(["ts", "host", "file"], own=True)
                .group_by("system", pl.coalesce("host", "file").alias("stream"), pl.col("ts").dt.truncate("1h"))
                .agg(pl.len()).collect())
    host_gaps = _gaps(ctx.events(["ts", "host"], pl.col("host").is_not_null(), own=True), ["system", "host"])
    devices = (ctx.all_events(["ts", "source", "prefecture", "host"], pl.col("source").is_in(BOUNDARY_SOURCES))
               .with_columns(pl.concat_str(["source", "prefecture", "host"], separator="/", ignore_nulls=True)
                             .alias("device")))
    device_gaps = _gaps(devices, ["device"])
    behind = (ctx.events(["source", "prefecture", "host"], pl.col("source").is_in(BOUNDARY_SOURCES))
              .select("system", pl.concat_str(["source", "prefecture", "host"], separator="/", ignore_nulls=True)
                      .alias("device")).unique().collect())
    out = []
    for system in ctx.systems:
        sid = system.id
        clauses = CLAUSES[system.level]
        acts = activity.filter(pl.col("system") == sid)
        mine = tamper.filter(pl.col("system") == sid)
        gaps = _corroborate(host_gaps.filter(pl.col("system") == sid), acts, "host")
        out += _host_findings(system, clauses, mine, gaps, acts)
        my_devices = behind.filter(pl.col("system") == sid)["device"].to_list()
        dgaps = _corroborate(device_gaps.filter(pl.col("device").is_in(my_devices)).with_columns(
            pl.lit(sid).alias("system")), acts, "device")
        out.append(_boundary_finding(system, clauses[0], my_devices, dgaps))
    return out


def _gaps(lf: pl.LazyFrame, keys: list[str]) -> pl.DataFrame:
    """Silences between two records of a stream longer than max(MIN_GAP, GAP_FACTOR x its usual interval).

    Only silences between activity count: before a stream's first record it may not have existed yet, and
    after its last the period may simply have ended.
    """
    ordered = lf.select(*keys, "ts").sort("ts").with_columns(pl.col("ts").shift(1).over(keys).alias("start"))
    stats = ordered.group_by(keys).agg(pl.len().alias("n"),
                                       (pl.col("ts") - pl.col("start")).median().alias("usual"))
    limit = pl.max_horizontal(pl.lit(MIN_GAP), pl.col("usual") * GAP_FACTOR)
    return (ordered.filter(pl.col("start").is_not_null()).rename({"ts": "end"}).join(stats, on=keys)
            .filter((pl.col("n") >= MIN_RECORDS) & ((pl.col("end") - pl.col("start")) > limit))
            .collect())


def _corroborate(gaps: pl.DataFrame, activity: pl.DataFrame, key: str) -> pl.DataFrame:
    """Each gap with the number of the system's other streams that logged in whole hours inside it."""
    if gaps.height == 0:
        return gaps.with_columns(pl.lit(0, dtype=pl.UInt32).alias("others"))
    joined = gaps.with_row_index("gap").join(activity, on="system").filter(
        (pl.col("stream") != pl.col(key)) & (pl.col("ts") >= pl.col("start").dt.truncate("1h") + dt.timedelta(hours=1))
        & (pl.col("ts") + dt.timedelta(hours=1) <= pl.col("end")))
    others = joined.group_by("gap").agg(pl.col("stream").n_unique().alias("others"))
    return gaps.with_row_index("gap").join(others, on="gap", how="left").with_columns(
        pl.col("others").fill_null(0)).drop("gap")


def _describe(gaps: pl.DataFrame, key: str) -> list[str]:
    return [f"{r[key]} 自 {when(r['start'])} 至 {when(r['end'])} 无日志"
            f"({(r['end'] - r['start']).total_seconds() / 3600:.1f} 小时)"
            for r in gaps.sort("start").iter_rows(named=True)]


def _host_findings(system, clauses: tuple[str, ...], tamper: pl.DataFrame, gaps: pl.DataFrame,  # type: ignore[no-untyped-def]
                   activity: pl.DataFrame) -> list[Finding]:
    clearing = tamper.filter(pl.col("clearing"))
    stopping = tamper.filter(pl.col("stopping") & ~pl.col("clearing"))
    exits = tamper.filter(~pl.col("stopping") & ~pl.col("clearing"))
    silent = gaps.filter(pl.col("others") > 0)
    quiet = gaps.filter(pl.col("others") == 0)

    def cmds(rows: pl.DataFrame) -> list[str]:
        return [f"{when(r['ts'])} {r['host']}: {short(r['message'], 110)}" for r in rows.head(3).iter_rows(named=True)]

    level3 = len(clauses) == 3
    c_parts, c_reason, c_rows = [], [], [clearing]
    if clearing.height:
        c_reason.append(f"{clearing.height} 次清除日志或命令历史")
        c_parts += cmds(clearing)
    if not level3 and stopping.height:
        c_reason.append(f"{stopping.height} 次停止审计或日志服务")
        c_parts += cmds(stopping)
        c_rows.append(stopping)
    if silent.height:
        c_reason.append(f"{silent.height} 段主机日志中断(同期系统其他日志仍在记录)")
        c_parts += _describe(silent, "host")[:3]
    to_check = []
    if quiet.height:
        to_check.append("以下静默期间是否停机：" + "；".join(_describe(quiet, "host")[:3]))
    if exits.height and not level3:
        to_check.append("以下审计服务退出是否为计划内重启：" + "；".join(cmds(exits)))
    checks = "；".join(to_check)
    findings = []
    if c_reason:
        findings.append(Finding(system.id, clauses[1], NONCOMPLIANT, "；".join(c_reason) + ",审计记录未受保护",
                                evidence="；".join(c_parts),
                                examples=examples(pl.concat([r.select("ts", "file", "line_no") for r in c_rows])),
                                to_verify="日志是否已实时转发到日志服务器并定期备份、普通账户能否删改日志"
                                + (f"；{checks}" if checks else "")))
    elif activity.height:
        findings.append(Finding(system.id, clauses[1], PARTIAL, "未见清除日志、停止审计或日志中断",
                                evidence=f"期间内 {activity['stream'].n_unique()} 个日志流,未见超过 "
                                         f"{MIN_GAP.total_seconds() / 3600:.0f} 小时且同期系统仍在记录的中断"
                                + (f"；另有 {quiet.height} 段静默无法确认主机是否在运行" if quiet.height else ""),
                                to_verify="日志实时转发到日志服务器并定期备份、日志文件权限"
                                + (f"；{checks}" if checks else "")))
    else:
        findings.append(Finding(system.id, clauses[1], INSUFFICIENT, "期间内没有该系统主机的日志"))
    if level3:
        extra = ("；以下审计服务退出是否为计划内重启：" + "；".join(cmds(exits))) if exits.height else ""
        if stopping.height:
            findings.append(Finding(system.id, clauses[2], NONCOMPLIANT,
                                    f"{stopping.height} 次停止或关闭审计、日志服务,审计进程未受保护",
                                    evidence="；".join(cmds(stopping)), examples=examples(stopping),
                                    to_verify="是否只有审计管理员能停止审计进程,停止是否告警" + extra))
        elif activity.height:
            findings.append(Finding(system.id, clauses[2], PARTIAL, "未见停止审计或日志服务的操作",
                                    evidence=f"期间内 {activity['stream'].n_unique()} 个日志流" + extra,
                                    examples=examples(exits),
                                    to_verify="审计进程(auditd、rsyslog)的保护:仅审计管理员可停止、停止时告警" + extra))
        else:
            findings.append(Finding(system.id, clauses[2], INSUFFICIENT, "期间内没有该系统主机的日志"))
    return findings


def _boundary_finding(system, clause: str, devices: list[str], gaps: pl.DataFrame) -> Finding:  # type: ignore[no-untyped-def]
    if not devices:
        return Finding(system.id, clause, INSUFFICIENT, "期间内没有边界设备对该系统流量的记录")
    silent = gaps.filter(pl.col("others") > 0)
    quiet = gaps.filter(pl.col("others") == 0)
    if silent.height:
        return Finding(system.id, clause, NONCOMPLIANT,
                       f"边界设备日志中断 {silent.height} 段,同期该系统自身日志仍在记录",
                       evidence="；".join(_describe(silent, "device")[:3]),
                       to_verify="边界设备日志是否实时转发到日志服务器并定期备份,中断原因")
    note = ("；以下静默期间设备是否停机：" + "；".join(_describe(quiet, "device")[:3])) if quiet.height else ""
    return Finding(system.id, clause, PARTIAL, "边界设备日志连续,未见中断",
                   evidence=f"设备 {listing(devices)}" + note,
                   to_verify="边界设备日志实时转发到日志服务器并定期备份" + note)
