"""Host authentication logs: sshd, PAM, sudo, cron, as rsyslog writes them to auth.log/secure.

The ordinary day includes an administrator's mistyped password followed by success, so detectors
have to tell a typo from a brute force rather than flag every failure.
"""

from __future__ import annotations

import base64
import hashlib
import random
from datetime import date, datetime, timedelta

from secaware.samples.clock import at, bsd_stamp, pick_time
from secaware.samples.model import Label, SyslogMsg
from secaware.samples.topology import Host, Site, System

ADMINS = ("ops", "wangjun", "liqiang")
SUDO_COMMANDS = (
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/systemctl status nginx",
    "/usr/bin/df -h",
    "/usr/bin/tail -n 200 /var/log/nginx/error.log",
    "/usr/bin/apt-get update",
    "/usr/bin/journalctl -u tomcat --since today",
    "/usr/sbin/ss -lntp",
)
_EPOCH = at(date(2026, 1, 1), 0)
_OFFICE = (0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 6, 5, 1, 1, 5, 6, 5, 3, 1, 1, 0, 0, 0, 0)


def format_syslog(msg: SyslogMsg, rfc3164: bool) -> str:
    """RFC 3164 (`Nov 23 08:15:58`, no year or zone) or rsyslog's RFC 3339 high-precision stamp."""
    stamp = bsd_stamp(msg.ts) if rfc3164 else msg.ts.isoformat(timespec="microseconds")
    tag = f"{msg.program}[{msg.pid}]" if msg.pid is not None else msg.program
    return f"{stamp} {msg.host} {tag}: {msg.message}"


def fingerprint(user: str) -> str:
    """A stable SHA256 key fingerprint for a user, written the way OpenSSH prints it."""
    return base64.b64encode(hashlib.sha256(user.encode()).digest()).decode().rstrip("=")


def next_pid(rng: random.Random, system: System, t: datetime) -> int:
    """PIDs grow with time as on a real host (RHEL-family hosts still wrap at 32768-ish sizes)."""
    minutes = int((t - _EPOCH).total_seconds() // 60)
    if system.rfc3164:
        return 3_000 + (minutes * 3) % 60_000 + rng.randint(0, 2)
    return 1_200_000 + (minutes * 3) % 2_800_000 + rng.randint(0, 2)


def _uid(user: str) -> int:
    return 0 if user == "root" else 1000 + ADMINS.index(user) if user in ADMINS else 1001


def session_lines(
    system: System,
    host: Host,
    t: datetime,
    user: str,
    src: str,
    rng: random.Random,
    *,
    method: str = "publickey",
    commands: tuple[str, ...] = (),
    duration: float = 600.0,
    label: Label | None = None,
) -> list[SyslogMsg]:
    """A complete successful sshd session: accept, PAM open, sudo, disconnect, PAM close."""
    pid = next_pid(rng, system, t)
    port = rng.randint(32768, 60999)
    uid = _uid(user)
    accepted = f"Accepted {method} for {user} from {src} port {port} ssh2"
    if method == "publickey":
        accepted += f": RSA SHA256:{fingerprint(user)}"
    opened = (
        f"pam_unix(sshd:session): session opened for user {user} by (uid=0)"
        if system.rfc3164
        else f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)"
    )
    out = [
        SyslogMsg(t, host.name, "sshd", pid, accepted, label),
        SyslogMsg(t + timedelta(milliseconds=9), host.name, "sshd", pid, opened, label),
    ]
    sid = rng.randint(1_000, 90_000)
    if not system.rfc3164:
        out.append(
            SyslogMsg(
                t + timedelta(milliseconds=30),
                host.name,
                "systemd-logind",
                rng.randint(600, 900),
                f"New session {sid} of user {user}.",
                label,
            )
        )
    c = t + timedelta(seconds=rng.uniform(20, 60))
    home = "/root" if user == "root" else f"/home/{user}"
    tty = f"pts/{rng.randint(0, 3)}"
    for cmd in commands:
        if user != "root":
            out.append(
                SyslogMsg(
                    c,
                    host.name,
                    "sudo",
                    None,
                    f"{user:>8} : TTY={tty} ; PWD={home} ; USER=root ; COMMAND={cmd}",
                    label,
                )
            )
            opened_sudo = (
                f"pam_unix(sudo:session): session opened for user root by {user}(uid={uid})"
                if system.rfc3164
                else f"pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={uid})"
            )
            out.append(SyslogMsg(c + timedelta(milliseconds=4), host.name, "sudo", None, opened_sudo, label))
            out.append(
                SyslogMsg(
                    c + timedelta(seconds=rng.uniform(0.2, 30)),
                    host.name,
                    "sudo",
                    None,
                    "pam_unix(sudo:session): session closed for user root",
                    label,
                )
            )
        c += timedelta(seconds=rng.uniform(10, 120))
    end = max(c, t + timedelta(seconds=duration))
    out.append(
        SyslogMsg(
            end,
            host.name,
            "sshd",
            pid,
            f"Received disconnect from {src} port {port}:11: disconnected by user",
            label,
        )
    )
    out.append(
        SyslogMsg(end, host.name, "sshd", pid, f"Disconnected from user {user} {src} port {port}", label)
    )
    out.append(
        SyslogMsg(
            end + timedelta(milliseconds=3),
            host.name,
            "sshd",
            pid,
            f"pam_unix(sshd:session): session closed for user {user}",
            label,
        )
    )
    if not system.rfc3164:
        out.append(
            SyslogMsg(
                end + timedelta(milliseconds=5),
                host.name,
                "systemd-logind",
                rng.randint(600, 900),
                f"Session {sid} logged out. Waiting for processes to exit.",
                label,
            )
        )
    return out


def failed_password(
    system: System,
    host: Host,
    t: datetime,
    user: str,
    src: str,
    rng: random.Random,
    *,
    invalid: bool = False,
    label: Label | None = None,
) -> list[SyslogMsg]:
    """One failed password attempt with the PAM line that precedes it, as OpenSSH + pam_unix log it."""
    pid = next_pid(rng, system, t)
    port = rng.randint(32768, 60999)
    out = []
    if invalid:
        out.append(SyslogMsg(t, host.name, "sshd", pid, f"Invalid user {user} from {src} port {port}", label))
        out.append(
            SyslogMsg(
                t + timedelta(milliseconds=40),
                host.name,
                "sshd",
                pid,
                "pam_unix(sshd:auth): check pass; user unknown",
                label,
            )
        )
        out.append(
            SyslogMsg(
                t + timedelta(milliseconds=41),
                host.name,
                "sshd",
                pid,
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                f"rhost={src}",
                label,
            )
        )
        out.append(
            SyslogMsg(
                t + timedelta(seconds=2.1),
                host.name,
                "sshd",
                pid,
                f"Failed password for invalid user {user} from {src} port {port} ssh2",
                label,
            )
        )
        out.append(
            SyslogMsg(
                t + timedelta(seconds=2.3),
                host.name,
                "sshd",
                pid,
                f"Connection closed by invalid user {user} {src} port {port} [preauth]",
                label,
            )
        )
        return out
    out.append(
        SyslogMsg(
            t + timedelta(milliseconds=40),
            host.name,
            "sshd",
            pid,
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
            f"rhost={src}  user={user}",
            label,
        )
    )
    out.append(
        SyslogMsg(
            t + timedelta(seconds=2.1),
            host.name,
            "sshd",
            pid,
            f"Failed password for {user} from {src} port {port} ssh2",
            label,
        )
    )
    out.append(
        SyslogMsg(
            t + timedelta(seconds=2.3),
            host.name,
            "sshd",
            pid,
            f"Connection closed by authenticating user {user} {src} port {port} [preauth]",
            label,
        )
    )
    return out


def _cron(system: System, host: Host, day: date, rng: random.Random) -> list[SyslogMsg]:
    out = []
    prog, svc = ("crond", "crond") if system.rfc3164 else ("CRON", "cron")
    minute = 1 if system.rfc3164 else 17
    for hour in range(24):
        t = at(day, hour, minute, rng.uniform(0, 0.9))
        pid = next_pid(rng, system, t)
        opened = (
            f"pam_unix({svc}:session): session opened for user root by (uid=0)"
            if system.rfc3164
            else f"pam_unix({svc}:session): session opened for user root(uid=0) by (uid=0)"
        )
        out.append(SyslogMsg(t, host.name, prog, pid, opened))
        out.append(
            SyslogMsg(
                t + timedelta(seconds=rng.uniform(0.05, 2)),
                host.name,
                prog,
                pid,
                f"pam_unix({svc}:session): session closed for user root",
            )
        )
    return out


def normal_auth(site: Site, system: System, day: date, rng: random.Random, scale: float) -> list[SyslogMsg]:
    """One day on every host of `system`: hourly cron, and admins working via the bastion host."""
    out: list[SyslogMsg] = []
    bastion = f"10.{site.index}.250.10"
    for host in system.hosts:
        out += _cron(system, host, day, rng)
        for _ in range(max(1, round(rng.randint(1, 3) * scale))):
            t = pick_time(rng, day, _OFFICE)
            user = rng.choice(ADMINS)
            src = bastion if rng.random() < 0.8 else f"10.{site.index}.250.{rng.choice((21, 22))}"
            method = "publickey" if rng.random() < 0.7 else "password"
            if method == "password" and rng.random() < 0.3:
                out += failed_password(system, host, t - timedelta(seconds=9), user, src, rng)
            cmds = tuple(rng.sample(SUDO_COMMANDS, rng.randint(0, 2)))
            out += session_lines(
                system, host, t, user, src, rng, method=method, commands=cmds, duration=rng.uniform(120, 2400)
            )
    return out
