"""默认账户与共享账户 (x.1.4.2 b, c): logins as default accounts; one account in use from several places at once.

b) 默认账户: successful logins (not cron or sudo sessions) as root, admin, administrator, guest and the
   like. The logs cannot show a default password, so this is about the account being in use at all.
c) 多余/共享账户: one account with sessions open at the same time from different addresses (sessions
   run from the login to the disconnect of the same process; one whose end is not logged counts for
   SESSION_GUESS), and accounts created with uid 0 (a second superuser is a superfluous account by design).

High risk: the high-risk determination guide (访问控制, 默认口令) treats default accounts with default or
weak passwords as high risk; a default-account login is flagged when it came from the Internet or after a
run of failed logins for that account, the two ways the logs can show its password was not a secret.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from secaware.compliance.context import (
    NONCOMPLIANT,
    PARTIAL,
    Context,
    Finding,
    address_is_public,
    examples,
    is_public,
    listing,
    short,
    when,
)

ID = "accounts"
TITLE = "默认账户与共享账户"
CLAUSES = {2: ("7.1.4.2 b", "7.1.4.2 c"), 3: ("8.1.4.2 b", "8.1.4.2 c")}
DEFAULT_ACCOUNTS = ("root", "admin", "administrator", "guest", "test", "sa", "system", "default", "user")
SESSION_GUESS = dt.timedelta(minutes=10)
#: Failed logins of a default account before its successful login that make the password a guess.
FAILS_BEFORE = 3
UID0_COMMAND = r"(?:useradd|adduser|usermod)\b[^;|&]*\s-(?:o\s+-)?u\s*0\b|(?:useradd|usermod)\b[^;|&]*--uid[= ]0\b"


def run(ctx: Context) -> list[Finding]:
    cols = ["ts", "host", "user", "src_ip", "pid", "program", "event_action", "file", "line_no"]
    auth = ctx.events(cols, pl.col("event_action").is_in(["logged_in", "disconnected", "session_closed",
                                                          "login_failed"]), own=True).collect()
    logins = auth.filter((pl.col("event_action") == "logged_in") & ~ctx.is_scanner("src_ip"))
    fails = auth.filter(pl.col("event_action") == "login_failed")
    sessions = _sessions(logins, auth.filter(pl.col("event_action").is_in(["disconnected", "session_closed"])))
    shared = _overlaps(sessions)
    uid0 = (ctx.events(["ts", "host", "user", "message", "file", "line_no"],
                       pl.col("message").str.contains("useradd|usermod|adduser"), own=True).collect()
            .filter(pl.col("message").str.contains(UID0_COMMAND)))

    out = []
    for system in ctx.systems:
        sid = system.id
        b, c = CLAUSES[system.level]
        mine = pl.col("system") == sid
        my_logins = logins.filter(mine)
        default = my_logins.filter(pl.col("user").str.to_lowercase().is_in(DEFAULT_ACCOUNTS))
        if default.height:
            risky = []
            for r in default.iter_rows(named=True):
                before = fails.filter(mine & (pl.col("host") == r["host"]) & (pl.col("user") == r["user"])
                                      & pl.col("ts").is_between(r["ts"] - dt.timedelta(hours=1), r["ts"]))
                if address_is_public(r["src_ip"]) or before.height >= FAILS_BEFORE:
                    risky.append(r)
            users = sorted(set(default["user"]))
            detail = "；".join(f"{when(r['ts'])} {r['host']} {r['program']} 以 {r['user']} 登录,来源 "
                              f"{r['src_ip'] or '本地'}" for r in default.sort("ts").head(4).iter_rows(named=True))
            out.append(Finding(
                sid, b, NONCOMPLIANT, f"默认账户 {listing(users)} 被直接用于登录 {default.height} 次",
                evidence=detail + (f"；其中 {len(risky)} 次来自互联网或发生在连续失败之后" if risky else ""),
                examples=examples(default),
                to_verify="默认账户是否已重命名或禁用远程登录(如 PermitRootLogin no)、默认口令是否已修改",
                high_risk=bool(risky)))
        elif my_logins.height:
            users = sorted(set(my_logins["user"].drop_nulls()))
            out.append(Finding(
                sid, b, PARTIAL, "登录均使用个人账户,未见默认账户登录",
                evidence=f"期间内 {my_logins.height} 次登录,账户 {listing(users)}",
                examples=examples(my_logins, 3),
                to_verify="默认账户已重命名或删除、默认口令已修改(含数据库、中间件和网络设备)"))

        my_shared = shared.filter(mine)
        my_uid0 = uid0.filter(mine)
        if my_shared.height or my_uid0.height:
            parts, reasons = [], []
            if my_shared.height:
                users = sorted(set(my_shared["user"]))
                reasons.append(f"账户 {listing(users)} 同时从多个地址登录,疑为共享账户")
                parts += [f"{r['user']} 于 {when(r['start'])} 起在 {r['host']} 从 {r['src_ip']} 登录时,"
                          f"{when(r['start_b'])} 起在 {r['host_b']} 从 {r['src_ip_b']} 也在使用"
                          for r in my_shared.head(3).iter_rows(named=True)]
            if my_uid0.height:
                reasons.append(f"新建了 UID 0 账户 {my_uid0.height} 次(多余的超级用户)")
                parts += [f"{when(r['ts'])} {r['host']}: {short(r['message'], 120)}"
                          for r in my_uid0.head(3).iter_rows(named=True)]
            rows = pl.concat([my_shared.select(pl.col("start").alias("ts"), "file", "line_no"),
                              my_uid0.select("ts", "file", "line_no")])
            out.append(Finding(sid, c, NONCOMPLIANT, "；".join(reasons), evidence="；".join(parts),
                               examples=examples(rows),
                               to_verify="账户与人员是否一一对应,多余、过期和 UID 0 账户是否已删除或停用"))
        elif my_logins.height:
            out.append(Finding(
                sid, c, PARTIAL, "未见同一账户同时从多个地址登录,也未见新建超级用户",
                evidence=f"期间内 {my_logins.height} 次登录、{my_logins['user'].n_unique()} 个账户",
                examples=examples(my_logins, 3),
                to_verify="多余、过期账户已删除或停用,账户与人员一一对应"))
    return out


def _sessions(logins: pl.DataFrame, ends: pl.DataFrame) -> pl.DataFrame:
    """Each network login with its end: the first disconnect or session close of the same process after it."""
    starts = logins.filter(pl.col("src_ip").is_not_null()).select(
        "system", "host", "pid", "user", "src_ip", pl.col("ts").alias("start"), "file", "line_no").sort("start")
    ends = ends.filter(pl.col("pid").is_not_null()).select("system", "host", "pid", pl.col("ts").alias("end")) \
        .sort("end")
    joined = starts.join_asof(ends, left_on="start", right_on="end", by=["system", "host", "pid"],
                              strategy="forward", check_sortedness=False)
    return joined.with_columns(pl.coalesce("end", pl.col("start") + SESSION_GUESS).alias("end"))


def _overlaps(sessions: pl.DataFrame) -> pl.DataFrame:
    """Pairs of sessions of one account on one system, from different addresses, open at the same time.

    A jump host (an address several accounts log in from, such as the bastion) opens sessions for whoever
    sits behind it, so one person can well be on it and on their own workstation at once: such pairs are not
    evidence. Pairs of two personal addresses are, and so is any pair with one Internet and one internal end.
    """
    jump = (sessions.group_by("system", "src_ip").agg(pl.col("user").n_unique().alias("users"))
            .filter(pl.col("users") >= 2).select("system", "src_ip", pl.lit(True).alias("jump")))
    s = sessions.join(jump, on=["system", "src_ip"], how="left").with_columns(pl.col("jump").fill_null(False))
    b = s.select("system", "user", *[pl.col(c).alias(f"{c}_b") for c in ("host", "src_ip", "start", "end", "jump")])
    pairs = s.join(b, on=["system", "user"]).filter(
        (pl.col("src_ip") != pl.col("src_ip_b")) & (pl.col("start") <= pl.col("start_b"))
        & (pl.col("start_b") < pl.col("end")))
    mixed = is_public(pl.col("src_ip")) != is_public(pl.col("src_ip_b"))
    return pairs.filter(mixed | (~pl.col("jump") & ~pl.col("jump_b"))).sort("start")
