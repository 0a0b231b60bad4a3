"""How well the shipped rule pack finds web attacks, and how quiet it stays on ordinary traffic.

Recall: every payload of the public attack lists (PayloadsAllTheThings intruder files for SQL
injection, XSS, directory traversal, file inclusion and command injection; payloadbox SQLi and
XSS) is put into one query parameter of an otherwise ordinary request to a government-site URL,
percent-encoded as a browser sends it (escapes the list already spells, such as `%2e` or `%c0%ae`,
are sent as they are: that encoding is the evasion under test), written as an nginx `combined` log
line, read by the `combined` parser and run through every single-event rule of `rules/`.

False positives: the share of lines alerted by any rule in two benign sets: the real access log of
a public website (elastic `apache_logs_17-18may`, combined) and the CSIC 2010 normal training
requests (raw HTTP; each becomes a combined line with the request path and query, and for POST the
form body appended as the query, since that is where a body-logging WAF or a GET form would put it).

The datasets are read in place from ../shared/datasets (or $SECAWARE_SHARED/datasets); nothing is
copied. Usage:

    PYTHONPATH=. python benchmarks/bench_detect_quality.py [--show-misses N] [--show-fp N] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
#: The single-event rule directories (correlation rules are not compiled yet).
SINGLE_EVENT_DIRS = ("web", "linux", "network")


def datasets_dir() -> Path:
    return Path(os.environ.get("SECAWARE_SHARED", ROOT.parent / "shared")) / "datasets"


# Attack payload lists, by class: (directory under datasets/payloads, glob).
PAYLOAD_SOURCES: dict[str, list[tuple[str, str]]] = {
    "sqli": [("payloadbox-sqli/Intruder", "**/*.txt"), ("PayloadsAllTheThings/SQL Injection/Intruder", "*")],
    "xss": [("payloadbox-xss/Intruder", "*.txt"), ("PayloadsAllTheThings/XSS Injection/Intruders", "*.txt")],
    "traversal": [("PayloadsAllTheThings/Directory Traversal/Intruder", "*.txt"),
                  ("PayloadsAllTheThings/File Inclusion/Intruders", "*.txt")],
    "cmdi": [("PayloadsAllTheThings/Command Injection/Intruder", "*.txt")],
}
#: NoSQL and LDAP payloads sit among the payloadbox SQLi lists; they are other classes.
EXCLUDED_PARTS = ("NoSQL",)
TARGETS = {"sqli": 0.95, "xss": 0.95, "traversal": 0.95, "cmdi": 0.90}
FP_TARGET = 0.005

# Ordinary pages of a prefecture portal; the payload goes where {p} is.
TEMPLATES = (
    "/zwgk/search.jsp?keyword={p}&siteid=620100&page=1",
    "/art/2026/11/23/art_1234_5678.html?source={p}",
    "/index.php?m=content&c=index&a=show&catid=12&id={p}",
    "/gjj/query.do?cardno={p}&type=1",
    "/xxgk/download.aspx?file={p}",
    "/wsbs/bsznDetail.action?itemId={p}&deptId=31",
)
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
_ESCAPE = re.compile(r"(%[uU][0-9A-Fa-f]{4}|%[0-9A-Za-z]{2})")


def load_payloads(cls: str, datasets: Path | None = None) -> list[str]:
    """The distinct non-blank payloads of one class, in file order (lists overlap; each counts once)."""
    base = (datasets or datasets_dir()) / "payloads"
    seen: dict[str, None] = {}
    for folder, pattern in PAYLOAD_SOURCES[cls]:
        for path in sorted((base / folder).glob(pattern)):
            if not path.is_file() or any(part in path.parts for part in EXCLUDED_PARTS):
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip():
                    seen.setdefault(line.rstrip("\r"), None)
    return list(seen)


_LIST_COMMENT = re.compile(r"^#\s*[A-Za-z]")
_CONTENT_FREE = re.compile(r"[A-Za-z0-9\s_.,%-]*")


def is_attack_bearing(payload: str) -> bool:
    """Whether a list entry carries attack syntax a signature can tell from an ordinary value.

    Left out: entries shorter than 3 characters (a lone quote, `||`), the lists' own comment lines
    (`# from wapiti`), and entries that once decoded hold nothing but letters, digits, blanks and
    `_ . , % -`: bare words such as `update`, `sysinfo` or `order by`, numbers, prose. Those are
    ordinary parameter values; flagging them would flag every search box.
    """
    from secaware.detect.decode import decode_value

    text = payload.strip()
    if len(text) < 3 or _LIST_COMMENT.match(text):
        return False
    return not _CONTENT_FREE.fullmatch(decode_value(text, True))


def encode(payload: str) -> str:
    """Percent-encode a payload for a query string; escapes it already spells are sent as they are."""
    return "".join(part if _ESCAPE.fullmatch(part) else quote(part, safe="") for part in _ESCAPE.split(payload))


def combined_line(i: int, target: str, *, method: str = "GET", ua: str = UA, status: int = 200) -> str:
    second = i % 86400
    stamp = f"23/Nov/2026:{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d} +0800"
    return (f'203.0.113.{i % 250 + 1} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 5123 '
            f'"https://www.lanzhou.gov.cn/" "{ua}"')


def attack_lines(payloads: Iterable[str]) -> list[str]:
    return [combined_line(i, TEMPLATES[i % len(TEMPLATES)].format(p=encode(p))) for i, p in enumerate(payloads)]


def elastic_lines(datasets: Path | None = None) -> list[str]:
    path = (datasets or datasets_dir()) / "elastic_apache_logs" / "apache_logs_17-18may"
    return [x for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]


_REQUEST = re.compile(r"^(GET|POST|PUT|HEAD|DELETE|OPTIONS) (\S+) (HTTP/\d\.\d)$")


def csic_requests(datasets: Path | None = None) -> list[tuple[str, str, str]]:
    """(method, path?query, User-Agent) of each CSIC 2010 normal training request; POST bodies as the query."""
    path = (datasets or datasets_dir()) / "csic2010" / "normalTrafficTraining.txt.gz"
    lines = gzip.decompress(path.read_bytes()).decode("latin-1").split("\r\n")
    out: list[tuple[str, str, str]] = []
    i = 0
    while i < len(lines):
        m = _REQUEST.match(lines[i])
        if not m:
            i += 1
            continue
        method, url = m.group(1), re.sub(r"^https?://[^/]+", "", m.group(2))
        ua, length = "-", 0
        i += 1
        while i < len(lines) and lines[i]:
            name, _, value = lines[i].partition(": ")
            if name.lower() == "user-agent":
                ua = value
            elif name.lower() == "content-length":
                length = int(value or 0)
            i += 1
        i += 1  # the blank line
        if length and i < len(lines):
            body = lines[i]
            url = url + ("&" if "?" in url else "?") + body
            i += 1
        out.append((method, url, ua))
    return out


def csic_lines(datasets: Path | None = None) -> list[str]:
    return [combined_line(i, url, method=method, ua=ua) for i, (method, url, ua) in enumerate(csic_requests(datasets))]


@dataclass
class Outcome:
    """Which lines of a set any rule alerted, and by which rules."""

    lines: list[str]
    hit: set[int] = field(default_factory=set)
    rules: Counter[str] = field(default_factory=Counter)
    rejects: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.hit) / max(len(self.lines), 1)


def compile_pack(rules_dir: Path = RULES):  # -> Compilation
    from secaware.detect.rules import compile_rules

    return compile_rules([rules_dir / d for d in SINGLE_EVENT_DIRS if (rules_dir / d).is_dir()])


def run(lines: list[str], rules: list, fmt: str = "combined") -> Outcome:
    """Parse lines with an ingest format and run the rules; rejected lines count as not alerted."""
    from secaware.detect.engine import match
    from secaware.ingest._common import REJECT, FileContext
    from secaware.ingest.formats import FORMATS
    from secaware.ingest.reader import LINES_SCHEMA

    start = time.perf_counter()
    frame = pl.DataFrame({"raw": lines, "line_no": range(1, len(lines) + 1), "warning": [None] * len(lines)},
                         schema=LINES_SCHEMA)
    context = FileContext(path="<benchmark>", format=fmt)
    context.chunk_text = "\n".join(lines).encode()
    parsed = FORMATS[fmt].parse(frame, context)
    events = parsed.filter(pl.col(REJECT).is_null())
    hits = match(events, rules)
    line_no = events["line_no"].to_list()
    out = Outcome(lines, rejects=parsed.height - events.height)
    by_line: dict[int, set[int]] = {}
    for row, rule in hits.iter_rows():
        by_line.setdefault(line_no[row] - 1, set()).add(rule)
    out.hit = set(by_line)
    for matched in by_line.values():
        out.rules.update(rules[r].title for r in matched)
    out.seconds = time.perf_counter() - start
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show-misses", type=int, default=0, metavar="N", help="print N missed payloads per class")
    ap.add_argument("--show-fp", type=int, default=0, metavar="N", help="print N alerted benign lines per set")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    wall = time.perf_counter()
    compilation = compile_pack()
    rules = compilation.rules
    report: dict[str, object] = {"rules": len(rules), "failed": compilation.failed, "recall": {}, "fp": {}}
    ok = not compilation.failed
    out = sys.stdout
    print(f"rule pack: {len(rules)} single-event rules compiled from {RULES}, {len(compilation.failed)} failed",
          file=out)
    for file, reason in compilation.failed:
        print(f"  FAILED {file}: {reason}", file=out)

    print("\nrecall on attack payload lists (one payload per request, in a query parameter); the target applies to",
          file=out)
    print("the attack-bearing entries (see is_attack_bearing), all entries shown beside them", file=out)
    print(f"  {'class':10} {'bearing':>8} {'detected':>9} {'recall':>7} {'target':>7} | {'all':>6} {'detected':>9} "
          f"{'recall':>7} | {'time':>5}  top rules", file=out)
    for cls, target in TARGETS.items():
        payloads = load_payloads(cls)
        res = run(attack_lines(payloads), rules)
        bearing = [i for i, p in enumerate(payloads) if is_attack_bearing(p)]
        found = [i for i in bearing if i in res.hit]
        recall, recall_all = len(found) / len(bearing), len(res.hit) / len(payloads)
        ok &= recall >= target and res.rejects == 0
        top = ", ".join(f"{t} {n}" for t, n in res.rules.most_common(3))
        verdict = "ok" if recall >= target else "FAIL"
        print(f"  {cls:10} {len(bearing):8d} {len(found):9d} {recall:7.3f} {target:7.2f} | {len(payloads):6d} "
              f"{len(res.hit):9d} {recall_all:7.3f} | {res.seconds:4.1f}s  {verdict}; {top}"
              + (f"; {res.rejects} lines rejected by the parser" if res.rejects else ""), file=out)
        misses = [payloads[i] for i in bearing if i not in res.hit]
        for p in misses[: args.show_misses]:
            print(f"      miss: {p[:160]}", file=out)
        report["recall"][cls] = {  # type: ignore[index]
            "attack_bearing": len(bearing), "detected": len(found), "recall": round(recall, 4),
            "all": len(payloads), "detected_all": len(res.hit), "recall_all": round(recall_all, 4),
            "rejects": res.rejects, "seconds": round(res.seconds, 2)}

    print("\nfalse positives on benign traffic (share of lines alerted by any rule)", file=out)
    for name, lines in (("elastic apache_logs_17-18may", elastic_lines()), ("csic2010 normalTrafficTraining",
                                                                            csic_lines())):
        res = run(lines, rules)
        ok &= res.rate < FP_TARGET
        verdict = "ok" if res.rate < FP_TARGET else "FAIL"
        print(f"  {name:32} {len(lines):7d} lines {len(res.hit):5d} alerted {res.rate:7.3%} (target < "
              f"{FP_TARGET:.1%}) {res.seconds:5.1f}s {verdict}", file=out)
        for title, n in res.rules.most_common(8):
            print(f"      {n:5d}  {title}", file=out)
        for i in sorted(res.hit)[: args.show_fp]:
            print(f"      fp: {lines[i][:220]}", file=out)
        report["fp"][name] = {"lines": len(lines), "alerted": len(res.hit), "rate": round(res.rate, 5),  # type: ignore[index]
                              "top_rules": res.rules.most_common(8), "seconds": round(res.seconds, 2)}

    seconds = time.perf_counter() - wall
    report["wall_seconds"] = round(seconds, 1)
    print(f"\nwall time {seconds:.1f}s; {'all targets met' if ok else 'SOME TARGETS MISSED'}", file=out)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
