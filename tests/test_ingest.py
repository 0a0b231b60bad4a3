"""The ingest invariants: every line accounted for, nothing read twice, nothing lost to a crash."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware.cli import cli
from secaware.ingest import ingest
from tests.conftest import read_table

pytestmark = pytest.mark.write_disk

OLD = time.time() - 3600  # mtime for files that are done being written


def web_lines(n: int, start: int = 0) -> list[str]:
    paths = ["/", "/xxgk/zcwj/index.html", "/bsfw/search?kw=%E5%85%AC%E7%A7%AF%E9%87%91", "/static/app.js"]
    return [
        f'10.{i % 7}.{i % 250}.{i % 200 + 1} - - [23/Nov/2026:{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d} +0800] '
        f'"GET {paths[i % 4]} HTTP/1.1" {200 if i % 11 else 404} {100 + i} "-" "Mozilla/5.0 (Windows NT 10.0)"'
        for i in range(start, start + n)
    ]


def write(path: Path, lines: list[str], *, mtime: float = OLD, end: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(x + end for x in lines))
    os.utime(path, (mtime, mtime))
    return path


def rows(store: Path, table: str = "events") -> pl.DataFrame:
    return read_table(store, table)


def accounted(report) -> None:  # type: ignore[no-untyped-def]
    for f in report.files:
        assert f.events + f.rejects + f.skipped == f.lines, f.path


def test_every_line_is_an_event_a_reject_or_skipped(tmp_path: Path) -> None:
    lines = [*web_lines(50), "", "garbage that is no access log", "   ", *web_lines(5, 50)]
    path = write(tmp_path / "logs" / "access.log", lines)
    report = ingest([path], tmp_path / "store")
    [f] = report.files
    assert (f.lines, f.events, f.rejects, f.skipped) == (58, 55, 1, 2)
    rejects = rows(tmp_path / "store", "rejects")
    assert rejects.select("file", "line_no", "raw", "reason").row(0) == (
        str(path), 52, "garbage that is no access log", "not a combined access-log line")
    events = rows(tmp_path / "store")
    assert sorted(events["line_no"]) == [*range(1, 51), *range(54, 59)]
    assert events["event_id"].n_unique() == 55


def test_rerun_adds_nothing_and_appended_lines_are_read_once(tmp_path: Path) -> None:
    path = write(tmp_path / "access.log", web_lines(100))
    store = tmp_path / "store"
    assert ingest([path], store).totals()["events"] == 100
    again = ingest([path], store)
    assert again.files[0].status == "unchanged" and again.totals()["lines"] == 0
    with path.open("a") as f:
        f.write("".join(x + "\n" for x in web_lines(30, 100)))
    os.utime(path, (OLD, OLD))
    grown = ingest([path], store)
    assert grown.files[0].status == "appended"
    assert (grown.files[0].lines, grown.files[0].first_line) == (30, 101)
    events = rows(store)
    assert events.height == 130
    assert sorted(events["line_no"]) == list(range(1, 131))
    assert events.select("line_no", "raw").sort("line_no")["raw"].to_list() == web_lines(130)


def test_rotated_and_compressed_copies_are_not_read_again(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    store = tmp_path / "store"
    path = write(logs / "access.log", web_lines(200))
    ingest([logs], store)
    # logrotate: the file is renamed to .1 after 20 more lines were written, a new file starts
    with path.open("a") as f:
        f.write("".join(x + "\n" for x in web_lines(20, 200)))
    path.rename(logs / "access.log.1")
    write(logs / "access.log", web_lines(10, 220))
    os.utime(logs / "access.log.1", (OLD - 10, OLD - 10))
    second = ingest([logs], store)
    by_name = {Path(f.path).name: f for f in second.files}
    assert by_name["access.log.1"].status == "rotated"
    assert (by_name["access.log.1"].lines, by_name["access.log.1"].first_line) == (20, 201)
    assert by_name["access.log"].lines == 10
    # next rotation: .1 is compressed to .2.gz, .bz2 and .zst copies appear as well
    data = (logs / "access.log.1").read_bytes()
    (logs / "access.log.1").unlink()
    (logs / "access.log.2.gz").write_bytes(gzip.compress(data))
    (logs / "copy.log.bz2").write_bytes(bz2.compress(data))
    import zstandard

    (logs / "copy.log.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    third = ingest([logs], store)
    assert third.totals()["lines"] == 0, third.as_dict()
    assert rows(store).height == 230
    assert rows(store)["raw"].n_unique() == 230
    # a fourth run skips the compressed files without decompressing them (same path, size, mtime)
    assert {f.status for f in ingest([logs], store).files} == {"unchanged"}


def test_compressed_files_are_read(tmp_path: Path) -> None:
    import zstandard

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log.gz").write_bytes(gzip.compress("\n".join(web_lines(40)).encode() + b"\n"))
    (logs / "b.log.bz2").write_bytes(bz2.compress("\n".join(web_lines(30, 40)).encode() + b"\n"))
    (logs / "c.log.zst").write_bytes(zstandard.ZstdCompressor().compress("\n".join(web_lines(20, 70)).encode()))
    report = ingest([logs], tmp_path / "store")
    assert sorted((Path(f.path).name, f.lines, f.events) for f in report.files) == [
        ("a.log.gz", 40, 40), ("b.log.bz2", 30, 30), ("c.log.zst", 20, 20)]


def test_unterminated_last_line_waits_until_the_file_is_quiet(tmp_path: Path) -> None:
    lines = web_lines(3)
    path = tmp_path / "access.log"
    path.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:40])
    store = tmp_path / "store"
    first = ingest([path], store)
    assert first.files[0].lines == 2  # the half-written line is left for later
    with path.open("a") as f:
        f.write(lines[2][40:])
    os.utime(path, (OLD, OLD))  # quiet now: the last line is complete even without a newline
    second = ingest([path], store)
    assert second.files[0].lines == 1
    assert rows(store).sort("line_no")["raw"].to_list() == lines


def test_gbk_file_is_decoded(tmp_path: Path) -> None:
    text = "<134>Dec  1 18:37:58 localhost fwlog: 日志类型:流量审计, 应用类型:Other, 用户名/主机:192.168.100.26\n" * 3
    path = tmp_path / "fw.log"
    path.write_bytes(text.encode("gbk"))
    os.utime(path, (OLD, OLD))
    report = ingest([path], tmp_path / "store")
    assert report.files[0].encoding == "gb18030"
    events = rows(tmp_path / "store")
    assert events.height == 3
    assert events["raw"][0].startswith("<134>Dec  1 18:37:58 localhost fwlog: 日志类型:流量审计")
    assert events["parse_warning"].null_count() == 3


def test_invalid_bytes_never_stop_a_run_and_are_marked(tmp_path: Path) -> None:
    good = web_lines(3)
    data = (good[0] + "\n").encode() + good[1].replace("/xxgk", "/x\xff\xfe").encode("latin-1") + b"\n"
    data += "中文 ".encode("gbk") + good[2].encode() + b"\n" + b"nul\x00byte line\n"
    path = tmp_path / "access.log"
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    report = ingest([path], tmp_path / "store")
    f = report.files[0]
    assert (f.lines, f.events + f.rejects) == (4, 4)
    events = rows(tmp_path / "store").sort("line_no")
    second = events.filter(pl.col("line_no") == 2).row(0, named=True)
    assert "\\xff\\xfe" in second["raw"] and "\\xHH" in second["parse_warning"]
    rejects = rows(tmp_path / "store", "rejects").sort("line_no")
    assert rejects["raw"].to_list()[-1] == "nul\x00byte line"
    gbk_line = pl.concat([events.select("line_no", "raw"), rejects.select("line_no", "raw")]).filter(
        pl.col("line_no") == 3)["raw"][0]
    assert gbk_line.startswith("中文 ")


def test_cr_only_line_endings_and_crlf(tmp_path: Path) -> None:
    lines = web_lines(5)
    cr = tmp_path / "cr.log"
    cr.write_bytes("\r".join(lines).encode() + b"\r")
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    for p in (cr, crlf):
        os.utime(p, (OLD, OLD))
    report = ingest([cr, crlf], tmp_path / "store")
    assert [(f.lines, f.events) for f in report.files] == [(5, 5), (5, 5)]
    assert not rows(tmp_path / "store")["raw"].str.contains("\r").any()


def test_empty_file_and_line_of_one_megabyte(tmp_path: Path) -> None:
    empty = tmp_path / "logs" / "empty.log"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    huge = web_lines(1)[0].replace("GET /", "GET /?" + "x" * (1 << 20) + "&")
    path = write(tmp_path / "logs" / "access.log", [*web_lines(2), huge])
    report = ingest([empty, path], tmp_path / "store")
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["empty.log"].status == "empty" and by_name["empty.log"].lines == 0
    assert (by_name["access.log"].lines, by_name["access.log"].events) == (3, 3)
    assert rows(tmp_path / "store")["raw"].str.len_bytes().max() > 1 << 20


def test_bad_inputs_are_named_and_the_run_goes_on(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    good = write(logs / "access.log", web_lines(10))
    (logs / "broken.log.gz").write_bytes(gzip.compress(b"\n".join(x.encode() for x in web_lines(5000)))[:3000])
    (logs / "notgzip.log.gz").write_bytes(b"plain text pretending to be gzip\n")
    write(logs / "mystery.log", ["\x02\x03 binary-ish stuff", "more of it"])
    (logs / "dangling.log").symlink_to(logs / "gone.log")
    (tmp_path / "emptydir").mkdir()
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(logs), str(tmp_path / "emptydir"), "--store", str(tmp_path / "store")])
    assert result.exit_code == 1
    out = result.output
    [good_row] = [x.split() for x in out.splitlines() if x.startswith(str(good) + " ")]
    assert good_row == [str(good), "new", "combined", "10", "10", "0", "0"]
    assert "mystery.log: cannot tell the format from the first lines (first line: '\\x02\\x03 binary-ish stuff')" in out
    assert "known formats: combined, common" in out
    assert "notgzip.log.gz: file ends in .gz but is not gzip-compressed" in out
    assert "broken.log.gz" in out and "cannot decompress" in out
    assert "dangling.log: cannot read" in out
    assert "emptydir: directory holds no log files" in out
    # the good file and the readable part of the truncated gzip are in the store
    events = rows(tmp_path / "store")
    assert events.filter(pl.col("file") == str(good)).height == 10
    broken = next(f for f in json.loads(runner.invoke(cli, [
        "ingest", str(logs), "--store", str(tmp_path / "store2"), "--json"]).stdout)["files"]
        if f["path"].endswith("broken.log.gz"))
    assert broken["status"] == "error" and broken["lines"] > 0
    assert broken["events"] + broken["rejects"] + broken["skipped"] == broken["lines"]


def test_cli_summary_and_json(tmp_path: Path) -> None:
    path = write(tmp_path / "620500-tianshui" / "ts-portal" / "access.log", [*web_lines(4), "junk"])
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(path), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    header, line, total = result.stdout.splitlines()
    assert header.split() == ["file", "status", "format", "lines", "events", "rejects", "skipped"]
    assert line.split() == [str(path), "new", "combined", "5", "4", "1", "0"]
    assert total.startswith("1 files: 5 lines read, 4 events, 1 rejects, 0 skipped, 0 errors")
    again = json.loads(runner.invoke(cli, ["ingest", str(path), "--store", str(tmp_path / "store"), "--json"]).stdout)
    assert again["totals"] == {"lines": 0, "events": 0, "rejects": 0, "skipped": 0}
    assert again["files"][0]["status"] == "unchanged"
    # the prefecture came from the collector directory name
    assert rows(tmp_path / "store")["prefecture"].unique().to_list() == ["620500"]


def test_prefecture_and_format_options(tmp_path: Path) -> None:
    path = write(tmp_path / "x.log", web_lines(3))
    runner = CliRunner()
    bad = runner.invoke(cli, ["ingest", str(path), "--store", str(tmp_path / "s"), "--prefecture", "北京"])
    assert bad.exit_code == 1 and "unknown prefecture '北京'" in bad.output
    ok = runner.invoke(cli, ["ingest", str(path), "--store", str(tmp_path / "s"), "--prefecture", "临夏",
                             "--format", "sshd"])
    assert ok.exit_code == 0
    assert rows(tmp_path / "s", "rejects")["reason"].unique().to_list() == ["not a sshd line"]
    assert rows(tmp_path / "s", "rejects")["prefecture"].unique().to_list() == ["622900"]


#: First lines longer than the 64 KB a file's format used to be told from.
_LONG_FIRST_LINES = {
    # a crash leaves the start of a log file as zero bytes (delayed allocation), here 96 KB of them
    "zero bytes": "\x00" * (96 << 10),
    # a request nginx or Apache was configured to accept at 20 KB, its binary bytes logged as \\xHH
    "long request": ('203.0.113.9 - - [23/Nov/2026:00:00:00 +0800] "GET /?a='
                     + "".join(f"\\x{b:02X}" for b in bytes(range(256)) * 80)
                     + ' HTTP/1.1" 414 150 "-" "curl/8.5.0"'),
}


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("kind", sorted(_LONG_FIRST_LINES))
def test_a_first_line_longer_than_the_sniffed_head_does_not_hide_the_file(tmp_path: Path, kind: str,
                                                                           compress: bool) -> None:
    """The format was told from the first 64 KB: a first line longer than that (zero bytes left by a
    crash, a long request logged escaped) filled it, and the whole file was refused as of unknown
    format. Now the whole lines of up to 4 MB decide; the long line is an event or a reject."""
    first = _LONG_FIRST_LINES[kind]
    assert len(first) > 64 << 10
    path = write(tmp_path / "access.log", [first, *web_lines(20)])
    if compress:
        path = tmp_path / "access.log.1.gz"
        path.write_bytes(gzip.compress((tmp_path / "access.log").read_bytes()))
        (tmp_path / "access.log").unlink()
    report = ingest([path], tmp_path / "s", settle_seconds=0)
    [result] = report.files
    assert result.format == "combined" and not report.errors
    assert (result.events, result.rejects) == ((21, 0) if kind == "long request" else (20, 1))
    events = rows(tmp_path / "s").sort("line_no")
    assert events["line_no"].to_list()[-20:] == list(range(2, 22))


def _run_cli(args: list[str], fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if fault:
        env["SECAWARE_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "secaware", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def _snapshot(store: Path) -> list[tuple[str, int, str]]:
    events = rows(store).select("file", "line_no", "raw")
    rejects = rows(store, "rejects").select("file", "line_no", "raw")
    return sorted(pl.concat([events, rejects]).iter_rows())


@pytest.mark.parametrize("fault", ["before_events_commit", "before_rejects_commit", "before_log_commit",
                                   "after_log_commit"])
def test_sigkill_at_each_commit_point_then_rerun_gives_exactly_the_uninterrupted_rows(tmp_path: Path,
                                                                                      fault: str) -> None:
    logs = tmp_path / "logs"
    write(logs / "a" / "access.log", [*web_lines(300), "bad line"])
    write(logs / "b" / "access.log", web_lines(200, 300))
    reference = tmp_path / "reference"
    assert _run_cli(["ingest", str(logs), "--store", str(reference)]).returncode == 0
    store = tmp_path / "store"
    killed = _run_cli(["ingest", str(logs), "--store", str(store)], fault=fault)
    assert killed.returncode == -signal.SIGKILL
    rerun = _run_cli(["ingest", str(logs), "--store", str(store), "--json"])
    assert rerun.returncode == 0, rerun.stderr
    assert _snapshot(store) == _snapshot(reference)
    assert rows(store)["event_id"].n_unique() == rows(store).height


@pytest.mark.slow
def test_sigkill_at_random_moments_during_a_long_run(tmp_path: Path) -> None:
    """Kill a multi-batch ingest at arbitrary moments, several times; the final store is exact."""
    from secaware.ingest import pipeline

    lines = web_lines(60_000)
    logs = tmp_path / "logs"
    for i in range(3):
        write(logs / f"site{i}" / "access.log", lines[i * 20_000:(i + 1) * 20_000])
    reference = tmp_path / "reference"
    env_small_batches = {"SECAWARE_COMMIT_LINES": "7000"}
    assert pipeline.COMMIT_LINES >= 7000
    base = [sys.executable, "-m", "secaware", "ingest", str(logs)]
    subprocess.run([*base, "--store", str(reference)], check=True, capture_output=True,
                   env={**os.environ, **env_small_batches})
    store = tmp_path / "store"
    for delay in (0.8, 1.6, 2.4, 3.2):
        proc = subprocess.Popen([*base, "--store", str(store)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ, **env_small_batches})
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    subprocess.run([*base, "--store", str(store)], check=True, capture_output=True,
                   env={**os.environ, **env_small_batches})
    assert _snapshot(store) == _snapshot(reference)


def test_settle_option_reads_a_fresh_unterminated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "copied-in.log"
    path.write_text("\n".join(web_lines(3)))  # no final newline, modified just now
    runner = CliRunner()
    held = runner.invoke(cli, ["ingest", str(path), "--store", str(tmp_path / "a"), "--json"])
    assert json.loads(held.stdout)["totals"]["lines"] == 2
    read = runner.invoke(cli, ["ingest", str(path), "--store", str(tmp_path / "b"), "--settle", "0", "--json"])
    assert json.loads(read.stdout)["totals"]["lines"] == 3


def test_a_line_longer_than_the_limit_is_cut_with_a_warning_and_offsets_stay_exact(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    """Memory stays bounded on a hostile endless line (limits scaled down so the test is small)."""
    from secaware.ingest import reader

    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1024)
    monkeypatch.setattr(reader, "KEPT_OVERSIZE_BYTES", 100)
    path = tmp_path / "x.log"
    data = b"first\n" + b"A" * 5000 + b"\nlast\n"
    path.write_bytes(data)
    chunks = list(reader.iter_chunks(path, None, start_offset=0, start_line=0, encoding="utf-8", newline=b"\n",
                                     final=True, chunk_bytes=256))
    rows = pl.concat([c.lines for c in chunks]).to_dicts()
    assert [(r["line_no"], len(r["raw"])) for r in rows] == [(1, 5), (2, 100), (3, 4)]
    assert rows[1]["warning"].startswith("line longer than")
    assert chunks[-1].end_offset == len(data) and chunks[-1].end_line == 3


def test_addresses_are_stored_in_one_form_mapped_ipv4_as_ipv4(tmp_path: Path) -> None:
    """A dual-stack socket logs an IPv4 client as `::ffff:10.1.2.3`, devices write IPv6 uncompressed in
    capitals: stored as written they fell outside every range (rules' `|cidr`, the allowlist, the
    inventory, compliance's internal ranges) and one host was several sources. They are stored in
    one form; what is no address, and the raw line, stay as logged."""
    from secaware.detect.engine import ROW, match
    from secaware.detect.rules import compile_rules

    clients = ["::ffff:10.1.2.3", "0:0:0:0:0:ffff:203.0.113.5", "2001:0DB8:0000:0000:0000:0000:0000:0007",
               "10.9.9.9", "2001:db8::7", "fe80::1%eth0", "not-an-address:x"]
    lines = [f'{c} - - [23/Nov/2026:10:00:0{i} +0800] "GET /admin/ HTTP/1.1" 200 10 "-" "curl/8.5.0"'
             for i, c in enumerate(clients)]
    ingest([write(tmp_path / "access.log", lines)], tmp_path / "s", settle_seconds=0)
    events = rows(tmp_path / "s").sort("line_no")
    assert events["src_ip"].to_list() == ["10.1.2.3", "203.0.113.5", "2001:db8::7", "10.9.9.9", "2001:db8::7",
                                          "fe80::1%eth0", "not-an-address:x"]
    assert events["raw"].to_list() == lines
    (tmp_path / "r.yml").write_text("title: internal admin\nlogsource: {category: webserver}\ndetection:\n"
                                    "  sel:\n    c-ip|cidr: [10.0.0.0/8, '2001:db8::/32']\n  condition: sel\n",
                                    encoding="utf-8")
    [rule] = compile_rules([tmp_path / "r.yml"]).rules
    assert sorted(events[i, "line_no"] for i in match(events, [rule])[ROW].to_list()) == [1, 3, 4, 5]
