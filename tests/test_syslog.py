"""Syslog headers (RFC 3164, 5424, 3339), the missing year, and sshd/PAM messages."""

from __future__ import annotations

import datetime as dt
import os

import polars as pl
import pytest

from secaware.ingest import ingest
from tests.conftest import parse_lines, read_table

UTC = dt.UTC


def test_rfc3164_example_in_configured_zone() -> None:
    line = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"
    mtime = dt.datetime(2026, 11, 29, tzinfo=UTC)
    [row] = parse_lines("syslog", [line], mtime=mtime, tz="Asia/Shanghai")
    assert row["_reject"] is None
    assert row["ts"] == dt.datetime(2026, 10, 11, 14, 14, 15, tzinfo=UTC)  # 22:14:15 +0800
    assert (row["host"], row["program"], row["pid"]) == ("mymachine", "su", None)
    assert (row["syslog_facility"], row["syslog_severity"]) == (4, 2)
    assert row["message"] == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc5424_example() -> None:
    line = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8"
    [row] = parse_lines("syslog", [line])
    assert row["_reject"] is None
    assert row["ts"] == dt.datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (row["host"], row["program"], row["pid"]) == ("mymachine.example.com", "su", None)
    assert row["message"] == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc3339_rsyslog_sshd_invalid_user() -> None:
    line = "2026-01-12T11:15:58.792703+00:00 nas1 sshd[1581943]: Invalid user user from 1.2.3.4 port 5678"
    [row] = parse_lines("syslog", [line])
    assert row["ts"] == dt.datetime(2026, 1, 12, 11, 15, 58, 792703, tzinfo=UTC)
    assert (row["source"], row["host"], row["program"], row["pid"]) == ("sshd", "nas1", "sshd", 1581943)
    assert (row["event_action"], row["user"], row["src_ip"], row["src_port"]) == ("invalid_user", "user", "1.2.3.4", 5678)
    assert (row["outcome"], row["invalid_user"]) == ("failure", True)


SSHD = "Nov 29 19:09:29 Centos7 sshd[8512]: "


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Failed password for root from 192.168.33.170 port 46848 ssh2",
         {"event_action": "login_failed", "user": "root", "src_ip": "192.168.33.170", "src_port": 46848,
          "auth_method": "password", "outcome": "failure", "invalid_user": False}),
        ("Failed password for invalid user admin from 203.0.113.5 port 40000 ssh2",
         {"event_action": "login_failed", "user": "admin", "invalid_user": True}),
        ("Accepted publickey for deploy from 10.1.250.7 port 51122 ssh2: RSA SHA256:AbCdEf",
         {"event_action": "logged_in", "user": "deploy", "auth_method": "publickey", "outcome": "success",
          "src_ip": "10.1.250.7"}),
        ("Accepted keyboard-interactive/pam for ops from 10.1.250.8 port 2222 ssh2",
         {"auth_method": "keyboard-interactive", "user": "ops"}),
        ("Connection closed by authenticating user root 203.0.113.5 port 55000 [preauth]",
         {"event_action": "connection_closed", "user": "root", "src_ip": "203.0.113.5", "src_port": 55000}),
        ("Connection closed by 203.0.113.5 port 55000 [preauth]",
         {"event_action": "connection_closed", "user": None, "src_ip": "203.0.113.5"}),
        ("Disconnected from user deploy 10.1.250.7 port 51122",
         {"event_action": "disconnected", "user": "deploy", "src_ip": "10.1.250.7"}),
        ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root",
         {"event_action": "auth_failure", "user": "root", "src_ip": "203.0.113.5", "outcome": "failure"}),
        ("pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
         {"event_action": "session_opened", "user": "root", "outcome": "success"}),
        ("pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked",
         {"event_action": "account_locked", "user": "root"}),
        ("pam_tally2(sshd:auth): user admin (1000) tally 6, deny 5",
         {"event_action": "account_locked", "user": "admin"}),
        ("pam_tally2(sshd:auth): user admin (1000) tally 2, deny 5",
         {"event_action": "tally", "user": "admin"}),
        ("error: maximum authentication attempts exceeded for invalid user test from 198.51.100.2 port 6000 ssh2 [preauth]",
         {"event_action": "max_attempts", "user": "test", "invalid_user": True, "src_ip": "198.51.100.2"}),
        ("reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
         {"event_action": "possible_break_in", "src_ip": "173.234.31.186"}),
        ("Server listening on 0.0.0.0 port 22.", {"event_action": None, "user": None}),
        # the user name is what the client sent: one that reads like an address never replaces the
        # address sshd writes after it (the last one), whatever the message
        ("Invalid user root from 10.1.250.7 port 22 from 203.0.113.5 port 51234",
         {"event_action": "invalid_user", "user": "root from 10.1.250.7 port 22", "src_ip": "203.0.113.5",
          "src_port": 51234}),
        ("Failed password for invalid user root from 10.1.250.7 port 22 ssh2 from 203.0.113.5 port 51234 ssh2",
         {"event_action": "login_failed", "user": "root from 10.1.250.7 port 22 ssh2", "src_ip": "203.0.113.5",
          "invalid_user": True}),
        ("Accepted password for a from 10.1.250.7 port 22 ssh2: b from 203.0.113.5 port 51234 ssh2",
         {"event_action": "logged_in", "src_ip": "203.0.113.5", "src_port": 51234}),
        ("Connection closed by invalid user x 10.1.250.7 port 22 203.0.113.5 port 51234 [preauth]",
         {"event_action": "connection_closed", "user": "x 10.1.250.7 port 22", "src_ip": "203.0.113.5"}),
        ("Disconnected from invalid user x 10.1.250.7 port 22 203.0.113.5 port 51234 [preauth]",
         {"event_action": "disconnected", "src_ip": "203.0.113.5", "src_port": 51234}),
        ("error: maximum authentication attempts exceeded for invalid user x from 10.1.250.7 port 22 "
         "from 203.0.113.5 port 51234 ssh2 [preauth]",
         {"event_action": "max_attempts", "src_ip": "203.0.113.5"}),
        ("Disconnecting invalid user x 10.1.250.7 port 22 203.0.113.5 port 51234: Too many authentication "
         "failures [preauth]",
         {"event_action": "max_attempts", "user": "x 10.1.250.7 port 22", "src_ip": "203.0.113.5"}),
        ("Invalid user admin from 203.0.113.5",  # OpenSSH before 7.x: no port
         {"event_action": "invalid_user", "user": "admin", "src_ip": "203.0.113.5", "src_port": None}),
    ],
)
def test_sshd_messages(message: str, expected: dict[str, object]) -> None:
    [row] = parse_lines("syslog", [SSHD + message], mtime=dt.datetime(2026, 11, 30, tzinfo=UTC))
    assert row["_reject"] is None
    assert row["source"] == "sshd"
    assert row["event_category"] == "authentication"
    for key, value in expected.items():
        assert row[key] == value, key


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Nov 23 03:01:02 lz-web-01 login[4242]: LOGIN ON pts/1 BY admin FROM 10.1.250.9",
         {"source": "auth", "event_action": "logged_in", "user": "admin", "src_ip": "10.1.250.9"}),
        ("Nov 23 03:01:01 lz-web-01 in.telnetd[4241]: connect from 10.1.250.9 (10.1.250.9)",
         {"source": "auth", "event_action": "telnet_connect", "src_ip": "10.1.250.9"}),
        ("Nov 23 03:05:00 lz-web-01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
         {"source": "auth", "event_action": "sudo", "user": "alice", "outcome": "success"}),
        ("Nov 23 03:05:00 lz-web-01 su: FAILED SU (to root) alice on pts/0",
         {"source": "auth", "event_action": "su_failed", "user": "alice", "outcome": "failure"}),
        ("Nov 23 03:05:00 lz-web-01 systemd-logind[812]: New session 3462 of user liqiang.",
         {"source": "auth", "event_action": "logind_new_session", "user": "liqiang"}),
        ("Nov 23 03:05:00 lz-web-01 CRON[100]: (root) CMD (run-parts /etc/cron.hourly)",
         {"source": "syslog", "event_action": None, "program": "CRON"}),
    ],
)
def test_other_auth_programs(line: str, expected: dict[str, object]) -> None:
    [row] = parse_lines("syslog", [line], mtime=dt.datetime(2026, 11, 30, tzinfo=UTC))
    for key, value in expected.items():
        assert row[key] == value, key


def test_year_rolls_over_at_new_year_and_tolerates_late_lines() -> None:
    lines = ["Dec 31 23:59:58 h sshd[1]: a", "Jan  1 00:00:01 h sshd[1]: b", "Dec 31 23:59:59 h sshd[1]: late",
             "Jan  1 00:00:02 h sshd[1]: c", "Feb 29 10:00:00 h sshd[1]: leap day exists in 2028"]
    rows = parse_lines("syslog", lines, mtime=dt.datetime(2028, 3, 1, tzinfo=UTC), tz="UTC")
    years = [r["ts"].year if r["ts"] else None for r in rows]
    assert years == [2027, 2028, 2027, 2028, 2028]


def test_year_continues_across_chunks_and_bad_dates_are_rejected() -> None:
    from secaware.ingest._common import FileContext
    from secaware.ingest.syslog import parse
    from tests.conftest import lines_frame

    ctx = FileContext(path="/x", format="syslog", tz="UTC", mtime=dt.datetime(2027, 1, 5, tzinfo=UTC))
    first = parse(lines_frame(["Dec 30 10:00:00 h app: x"]), ctx)
    second = parse(lines_frame(["Jan  2 10:00:00 h app: y", "Feb 29 10:00:00 h app: not in 2027"]), ctx)
    assert first["ts"][0].year == 2026
    assert second["ts"][0].year == 2027
    assert second["_reject"][1] == "unreadable time: Feb 29 10:00:00"


def test_mixed_header_styles_in_one_file() -> None:
    rows = parse_lines("syslog", [
        "Nov 29 19:09:29 Centos7 sshd[8512]: Failed password for root from 192.168.33.170 port 46848 ssh2",
        "2026-11-29T19:09:30.000001+08:00 Centos7 sshd[8512]: Failed password for root from 192.168.33.170 port 46848 ssh2",
        "not a syslog line at all",
        "2026-11-29T19:09:31 Centos7 sshd[8512]: an RFC 3339 time without offset is local",
        "<38>2018/10/05 09:52:14 USG6300 %%01SHELL/5/CMDRECORD(s): Recorded command information.",
    ], mtime=dt.datetime(2026, 11, 30, tzinfo=UTC), tz="Asia/Shanghai")
    assert rows[0]["ts"] == dt.datetime(2026, 11, 29, 11, 9, 29, tzinfo=UTC)
    assert rows[1]["ts"] == dt.datetime(2026, 11, 29, 11, 9, 30, 1, tzinfo=UTC)
    assert rows[2]["_reject"] == "not a syslog line"
    assert rows[3]["ts"] == dt.datetime(2026, 11, 29, 11, 9, 31, tzinfo=UTC)
    assert (rows[4]["ts"], rows[4]["host"]) == (dt.datetime(2018, 10, 5, 1, 52, 14, tzinfo=UTC), "USG6300")


@pytest.mark.write_disk
def test_loghub_linux_messages(datasets, tmp_path) -> None:
    """/var/log/messages of a Red Hat server: 489 sshd(pam_unix) authentication failures per its SOURCE.txt."""
    path = datasets / "loghub" / "Linux" / "Linux_2k.log"
    # A published dataset is complete even when its copy is seconds old: read its last line too.
    report = ingest([path], tmp_path / "store", settle_seconds=0)
    [f] = report.files
    assert (f.format, f.lines, f.events, f.rejects) == ("syslog", 2000, 2000, 0)
    events = read_table(tmp_path / "store", "events")
    failures = events.filter((pl.col("source") == "sshd") & (pl.col("event_action") == "auth_failure"))
    assert failures.height == 489
    # The parser's fields agree with loghub's own structured ground truth, line by line.
    truth = pl.read_csv(path.with_name("Linux_2k.log_structured.csv"), infer_schema=False)
    joined = events.join(truth.with_columns(pl.col("LineId").cast(pl.Int64)), left_on="line_no", right_on="LineId")
    assert joined.height == 2000
    # loghub keeps sysklogd's "-- " marker in the component ("-- root"); the program is "root".
    assert (joined["program"] == joined["Component"].str.strip_prefix("-- ")).all()
    with_pid = joined.filter(pl.col("PID").is_not_null() & (pl.col("PID") != ""))
    assert (with_pid["pid"].cast(pl.String) == with_pid["PID"]).all()
    assert (joined["message"].str.strip_chars() == joined["Content"].str.strip_chars()).all()
    # No year in the file: the first line (Jun 14) takes the latest year not after the file's mtime.
    mtime = dt.datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    first = events.filter(pl.col("line_no") == 1)["ts"][0]
    assert first <= mtime and (mtime - first).days < 366
