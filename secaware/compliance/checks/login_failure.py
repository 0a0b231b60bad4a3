"""登录失败处理 (x.1.4.1 b): repeated failures for an account with no lockout, or a login after a run of failures.

Counted per system, host and account: `login_failed` events of existing accounts (an account that does
not exist cannot be locked, so invalid users do not count), `account_locked` events (pam_faillock,
pam_tally2), and successful logins. Authorized scanners are left out.

High risk: the high-risk determination guide (网络安全等级保护测评高风险判定指引, 身份鉴别) treats
login failure handling that is missing, so that passwords can be guessed without limit, as high risk;
both findings here show exactly that.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from secaware.compliance.context import (
    INSUFFICIENT,
    NONCOMPLIANT,
    PARTIAL,
    Context,
    Finding,
    examples,
    listing,
    when,
)

ID = "login_failure"
TITLE = "登录失败处理"
CLAUSES = {2: ("7.1.4.1 b",), 3: ("8.1.4.1 b",)}
#: Failures of one account on one host within BURST_MINUTES that a lockout should have stopped. Lockout
#: thresholds in use are 3-10 attempts (5 is the usual baseline), so 10 leaves room for a generous setting.
BURST = 10
BURST_MINUTES = 30
#: A login preceded by this many failures of the same account within SUCCESS_MINUTES: a guessed password.
BEFORE_SUCCESS = 5
SUCCESS_MINUTES = 60
#: A lockout this long after the last failure of a burst still counts as its answer.
LOCK_GRACE = dt.timedelta(minutes=5)
_KEYS = ["system", "host", "user"]


def run(ctx: Context) -> list[Finding]:
    ev = (ctx.events(["ts", "host", "user", "src_ip", "event_action", "invalid_user", "file", "line_no"],
                     pl.col("event_action").is_in(["login_failed", "account_locked", "logged_in"]))
          .filter(~ctx.is_scanner("src_ip"))
          .with_columns(
              ((pl.col("event_action") == "login_failed") & ~pl.col("invalid_user").fill_null(False)).alias("fail"),
              (pl.col("event_action") == "login_failed").alias("any_fail"),
              (pl.col("event_action") == "account_locked").alias("lock"),
              (pl.col("event_action") == "logged_in").alias("ok"))
          .sort("ts")
          .with_columns(
              pl.col("fail").cast(pl.Int32).rolling_sum_by("ts", f"{BURST_MINUTES}m").over(_KEYS).alias("n_burst"),
              pl.col("fail").cast(pl.Int32).rolling_sum_by("ts", f"{SUCCESS_MINUTES}m").over(_KEYS).alias("n_before"))
          .collect())
    fails = ev.filter(pl.col("fail"))
    locks = ev.filter(pl.col("lock"))
    bursts = (ev.filter(pl.col("fail") & (pl.col("n_burst") >= BURST))
              .group_by(_KEYS).agg(pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"),
                                   pl.col("n_burst").max().alias("peak")))
    window = pl.duration(minutes=BURST_MINUTES)
    answered = (bursts.join(locks.select(*_KEYS, pl.col("ts").alias("lock_ts")), on=_KEYS, nulls_equal=True)
                .filter(pl.col("lock_ts").is_between(pl.col("first") - window, pl.col("last") + LOCK_GRACE))
                .select(_KEYS).unique())
    unlocked = bursts.join(answered, on=_KEYS, how="anti", nulls_equal=True)
    guessed = ev.filter(pl.col("ok") & (pl.col("n_before") >= BEFORE_SUCCESS))

    out = []
    for system in ctx.systems:
        sid = system.id
        sys_fails = fails.filter(pl.col("system") == sid)
        sys_locks = locks.filter(pl.col("system") == sid)
        sys_all = ev.filter(pl.col("system") == sid)
        no_lock = unlocked.filter(pl.col("system") == sid).sort("first")
        after = guessed.filter(pl.col("system") == sid).sort("ts")
        n_fail, n_ok = sys_all["any_fail"].sum(), sys_all["ok"].sum()
        counts = (f"期间内 {n_fail} 次登录失败(其中已存在账户 {sys_fails.height} 次)、"
                  f"{sys_locks.height} 次账户锁定、{n_ok} 次成功登录")
        if no_lock.height or after.height:
            parts = []
            for r in no_lock.iter_rows(named=True):
                parts.append(f"{r['host']} 账户 {r['user']} 在 {BURST_MINUTES} 分钟内失败 {r['peak']} 次未被锁定"
                             f"({when(r['first'])} 至 {when(r['last'])})")
            for r in after.iter_rows(named=True):
                parts.append(f"{r['host']} 账户 {r['user']} 在 {SUCCESS_MINUTES} 分钟内失败 {r['n_before']} 次后于 "
                             f"{when(r['ts'])} 从 {r['src_ip'] or '本地'} 登录成功")
            ex_rows = pl.concat([
                after.select("ts", "file", "line_no"),
                sys_fails.join(no_lock.select(_KEYS), on=_KEYS, nulls_equal=True).select("ts", "file", "line_no"),
            ])
            reason = []
            if no_lock.height:
                reason.append(f"{no_lock.height} 个账户连续登录失败而未被锁定")
            if after.height:
                reason.append(f"{after.height} 次登录成功发生在连续失败之后(口令被猜中)")
            out.append(Finding(
                sid, CLAUSES[system.level][0], NONCOMPLIANT, "；".join(reason) + ",登录失败处理未起作用",
                evidence=f"{counts}。" + "；".join(parts[:6]),
                examples=examples(after, 3) + examples(ex_rows, 5 - min(3, after.height)),
                to_verify="pam_faillock/pam_tally2 的 deny 与 unlock_time、sshd MaxAuthTries、会话超时(TMOUT、"
                          "ClientAliveInterval)配置,并修改被猜中账户的口令",
                high_risk=True))
        elif sys_locks.height:
            users = sys_locks["user"].drop_nulls().unique().sort().to_list()
            out.append(Finding(
                sid, CLAUSES[system.level][0], PARTIAL, "日志中可见账户锁定生效,未见未被锁定的连续失败",
                evidence=f"{counts};被锁定账户:{listing(users)}",
                examples=examples(sys_locks, 3),
                to_verify="所有主机均配置登录失败锁定(次数、时长)及登录连接超时自动退出"))
        else:
            out.append(Finding(
                sid, CLAUSES[system.level][0], INSUFFICIENT,
                "日志中未见账户锁定,也未见足以触发锁定的连续失败,无法判断登录失败处理是否启用",
                evidence=counts, examples=examples(sys_fails, 3),
                to_verify="登录失败锁定与登录连接超时配置"))
    return out
