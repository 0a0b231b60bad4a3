"""The Polars backend: an inline Sigma rule in, the rows it selects from a small frame out (pySigma's habit)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sigma.collection import SigmaCollection

from secaware.detect.backend import PolarsBackend, ascii_classes
from secaware.detect.rules import compile_rules, events_pipeline

EVENTS = pl.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "url_query": ["id=1 UNION SELECT password FROM users", "q=%E5%85%B0", "file=../../etc/passwd", None],
        "user_agent": ["sqlmap/1.7", "Mozilla/5.0", "Mozilla/5.0 (compatible; Nikto)", None],
        "http_status": pl.Series([200, 404, 200, 500], dtype=pl.Int16),
        "status_text": ["200", "404", "200", "500"],
        "src_ip": ["10.1.2.3", "203.0.113.9", "2001:db8:1::5", "not-an-ip"],
        "user": ["root", "admin", None, "Root"],
        "target_user": ["root", "alice", "bob", "root"],
        "bytes": [100, 5_000_000, 0, None],
        "command": ["cmd /c whoami", "cmd -c dir", "powershell -enc SQBFAFgA", None],
        "raw": ["GET /?id=1 UNION SELECT", "GET /index.html", "GET /?file=../../etc/passwd", "<junk>"],
    }
)


def selected(detection: str) -> list[int]:
    rule = SigmaCollection.from_yaml(f"""
title: test
logsource: {{category: webserver}}
detection:
{detection}
""")
    [expr] = PolarsBackend().convert(rule)
    assert isinstance(expr, pl.Expr)
    return EVENTS.filter(expr)["id"].to_list()


@pytest.mark.parametrize(
    ("detection", "ids"),
    [
        # plain value: whole-field, case-insensitive
        ("  sel:\n    user: root\n  condition: sel", [1, 4]),
        ("  sel:\n    user|cased: root\n  condition: sel", [1]),
        ("  sel:\n    url_query|contains: union select\n  condition: sel", [1]),
        ("  sel:\n    user_agent|startswith: mozilla\n  condition: sel", [2, 3]),
        ("  sel:\n    user_agent|endswith: NIKTO)\n  condition: sel", [3]),
        ("  sel:\n    url_query|contains|all:\n      - union\n      - from\n  condition: sel", [1]),
        ("  sel:\n    url_query|contains:\n      - passwd\n      - '%E5'\n  condition: sel", [2, 3]),
        # wildcards inside a value, and an escaped literal star
        ("  sel:\n    user_agent: 'sql?ap/*'\n  condition: sel", [1]),
        ("  sel:\n    url_query: 'file=*/etc/*'\n  condition: sel", [3]),
        ("  sel:\n    user_agent: 'Mozilla/5.0\\*'\n  condition: sel", []),
        # regular expressions: case-sensitive unless the i flag is given
        ("  sel:\n    url_query|re: 'union\\s+select'\n  condition: sel", []),
        ("  sel:\n    url_query|re|i: 'union\\s+select'\n  condition: sel", [1]),
        ("  sel:\n    url_query|re: '\\.\\./'\n  condition: sel", [3]),
        # CIDR, IPv4 and IPv6; text that is no address never matches
        ("  sel:\n    src_ip|cidr: 10.0.0.0/8\n  condition: sel", [1]),
        ("  sel:\n    src_ip|cidr: 2001:db8::/32\n  condition: sel", [3]),
        ("  sel:\n    src_ip|cidr:\n      - 10.0.0.0/8\n      - 203.0.113.0/24\n  condition: sel", [1, 2]),
        # numbers against numeric and text columns
        ("  sel:\n    http_status: 200\n  condition: sel", [1, 3]),
        ("  sel:\n    status_text: 404\n  condition: sel", [2]),
        ("  sel:\n    bytes|gt: 1000\n  condition: sel", [2]),
        ("  sel:\n    bytes|gte: 100\n  condition: sel", [1, 2]),
        ("  sel:\n    bytes|lt: 100\n  condition: sel", [3]),
        ("  sel:\n    bytes|lte: 100\n  condition: sel", [1, 3]),
        # existence and null
        ("  sel:\n    user|exists: true\n  condition: sel", [1, 2, 4]),
        ("  sel:\n    user|exists: false\n  condition: sel", [3]),
        ("  sel:\n    user: null\n  condition: sel", [3]),
        # field references
        ("  sel:\n    user|fieldref: target_user\n  condition: sel", [1, 4]),
        # encodings a command line may hide behind
        ("  sel:\n    command|windash|contains: ' -c '\n  condition: sel", [1, 2]),
        ("  sel:\n    command|base64offset|contains: 'IEX'\n  condition: sel", []),
        ("  sel:\n    command|base64|contains: 'IEX'\n  condition: sel", []),
        # boolean structure; a null field never silently drops a row from a `not`
        ("  sel:\n    user_agent|contains: mozilla\n  condition: not sel", [1, 4]),
        ("  a:\n    http_status: 200\n  b:\n    user: root\n  condition: a and not b", [3]),
        ("  a:\n    http_status: 500\n  b:\n    user|cased: root\n  condition: a or b", [1, 4]),
        ("  a:\n    http_status: 200\n  b:\n    http_status: 404\n  condition: 1 of them", [1, 2, 3]),
        ("  a:\n    http_status: 200\n  b:\n    user_agent|contains: sqlmap\n  condition: all of them", [1]),
        # keywords: anywhere in the raw line, case-insensitive
        ("  keywords:\n    - union select\n    - '<JUNK>'\n  condition: keywords", [1, 4]),
        ("  keywords:\n    '|all':\n      - GET\n      - passwd\n  condition: keywords", [3]),
        # keyword expansions: any of their forms anywhere in the line (-index also as /index)
        ("  keywords:\n    '|windash|contains':\n      - '-index'\n  condition: keywords", [2]),
    ],
)
def test_rule_selects(detection: str, ids: list[int]) -> None:
    assert selected(detection) == ids


def test_base64_variants_find_an_encoded_command() -> None:
    import base64

    frame = pl.DataFrame({"id": [1, 2], "command": [
        "powershell -enc " + base64.b64encode(b"xxIEX(New-Object Net.WebClient)").decode(), "powershell -enc AAAA"]})
    rule = SigmaCollection.from_yaml("""
title: encoded
logsource: {product: windows}
detection:
  sel:
    command|base64offset|contains: 'IEX(New-Object'
  condition: sel
""")
    [expr] = PolarsBackend().convert(rule)
    assert frame.filter(expr)["id"].to_list() == [1]


def test_values_from_rules_are_data_never_code() -> None:
    """A value full of regex and Polars syntax is matched literally."""
    frame = pl.DataFrame({"id": [1, 2], "url_query": ['a").alias("x") | pl.lit(True', "(.*)"]})
    rule = SigmaCollection.from_yaml("""
title: hostile
logsource: {category: webserver}
detection:
  sel:
    url_query|contains: '(.'
  condition: sel
""")
    [expr] = PolarsBackend().convert(rule)
    assert frame.filter(expr)["id"].to_list() == [2]


def test_ipv6_cidr_ranges_of_any_length_hold_compressed_and_written_out_addresses() -> None:
    """`2001:db8::5` is in 2001:db8::/64 though it does not start with `2001:db8:0:0:`; prefixes that
    are no multiple of 16 bits (an ISP's /56 or /60) work too. Checked against Python's ipaddress on
    addresses near each range's edges, written compressed, in full and in capitals."""
    rng = random.Random(6)
    networks = [ipaddress.IPv6Network(n) for n in ("2001:db8::/64", "2001:db8::/33", "240e:3cc:e12b:b500::/56",
                                                   "2409:8a00::/29", "::/127", "fe80::/10", "2001:db8:0:0:1::/80",
                                                   "::1/128")]
    values: list[str | None] = [None, "10.1.2.3", "not an address", "2001:db8::1::2", "2001:db8:0:0:0:0:0:0:1",
                                "12345::1", ":1:2:3:4:5:6:7", "fe80::1%eth0"]
    for net in networks:
        for base in (int(net.network_address), int(net.broadcast_address)):
            for delta in (-1, 0, 1, rng.getrandbits(20), -rng.getrandbits(20)):
                address = ipaddress.IPv6Address((base + delta) % 2**128)
                values += [address.compressed, address.exploded, address.compressed.upper()]
    frame = pl.DataFrame({"src_ip": values}, schema={"src_ip": pl.String}).with_row_index("id")
    for net in networks:
        rule = SigmaCollection.from_yaml(f"""
title: ipv6 range
logsource: {{category: webserver}}
detection:
  sel:
    src_ip|cidr: {net}
  condition: sel
""")
        [expr] = PolarsBackend().convert(rule)
        expected = [i for i, v in enumerate(values) if v and "%" not in v and _ipv6_in(v, net)]
        assert frame.filter(expr)["id"].to_list() == expected, net


def _ipv6_in(value: str, network: ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.IPv6Address(value) in network
    except ValueError:
        return False


def test_word_boundaries_are_ascii_so_chinese_text_beside_a_keyword_is_not_a_word() -> None:
    """`\\b` is an ASCII word boundary: 检索select (a payload glued to Chinese text) still shows the keyword,
    and Rust's Unicode boundaries would cost about 100x on Chinese pages."""
    rule = SigmaCollection.from_yaml("""
title: test
logsource: {category: webserver}
detection:
  sel: {url_query|re: '(?i)\\bunion\\b.+\\bselect\\b'}
  condition: sel
""")
    [expr] = PolarsBackend().convert(rule)
    frame = pl.DataFrame({"url_query": ["q=检索union all select 1", "q=reunion selected", "q=联合union select"]})
    assert frame.select(expr.alias("m"))["m"].to_list() == [True, False, True]


def test_perl_classes_are_ascii_as_in_pcre() -> None:
    """Sigma's regular expressions are PCRE, where `\\w`, `\\d` and `\\s` are ASCII: a Chinese file name
    is not a run of word characters, a full-width digit is no digit, while `\\W`, `\\D` and `\\S` (also
    inside brackets) match any other character, Chinese text included. Python's re.ASCII reads them
    the same way; the expressions are compared with it on text mixing both."""
    rule = SigmaCollection.from_yaml(r"""
title: test
logsource: {category: webserver}
detection:
  name: {cs-uri-stem|re: '/[\w.-]+\.php$'}
  digits: {cs-uri-query|re: 'id=\d+\S*\s\D'}
  neither: {cs-referer|re: '[^\w\s]{2}'}
  condition: name or digits or neither
""")
    [expr] = PolarsBackend(processing_pipeline=events_pipeline()).convert(rule)
    frame = pl.DataFrame({
        "url_path": ["/up/shell_1.php", "/up/木马.php", "/up/a.php", "/", "/", "/", "/"],
        "url_query": [None, None, None, "id=12x\tz", "id=１２ y", "id=1 中", None],
        "referer": [None, None, None, None, None, None, "中文"],
    })
    assert frame.select(expr.alias("m"))["m"].to_list() == [True, False, True, True, False, True, True]
    # and a ] first in a class is a literal, escaped backslashes stay escaped
    patterns = [r"/[\w.-]+\.php$", r"id=\d+\S*\s\D", r"[^\w\s]{2}", r"[]\w]{3}", r"[^]\s]{4}", r"[\\]\d", r"\\w"]
    for pattern in patterns:
        texts = ["/up/木马.php", "id=１２ y", "id=1 中", "中文", "a_1.php", "id=3 x", "--", "]a]", "\\7", "\\w"]
        assert pl.Series(texts).str.contains(ascii_classes(pattern)).to_list() == [
            bool(re.search(pattern, t, re.ASCII)) for t in texts]


def test_cidr_ranges_in_the_engine_compare_the_address_numbers_it_derives(tmp_path: Path) -> None:
    """In the engine a CIDR range on src_ip/dst_ip compares the number derived once per chunk
    (engine.DERIVED); alone, the backend's expression parses the text. Both say what Python's
    ipaddress says, for edge addresses, junk, IPv6 and digits that are not ASCII."""
    from secaware.detect.engine import match
    from secaware.detect.rules import compile_rules

    (tmp_path / "r.yml").write_text("""
title: private source to public destination
id: 7c000000-0000-4000-8000-000000000001
logsource: {category: firewall}
detection:
  private:
    src_ip|cidr: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]
  public:
    dst_ip|cidr: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.0/8]
  condition: private and not public
""", encoding="utf-8")
    comp = compile_rules([tmp_path])
    assert comp.failed == [] and "src_ip__ipv4" in comp.rules[0].columns
    sources = ["10.0.0.0", "10.255.255.255", "11.0.0.0", "9.255.255.255", "172.31.255.255", "172.32.0.1",
               "192.168.1.1", "192.169.0.1", "010.1.1.1", "10.1.1", "10.1.1.1.1", "10.1.1.1 ", "999.1.1.1",
               "fe80::1", "\u0661\u0660.1.1.1", "", None]
    frame = pl.DataFrame({"src_ip": sources, "dst_ip": ["8.8.8.8", "10.2.2.2", "203.0.113.5"] * 5 + ["1.1.1.1"] * 2,
                          "event_category": ["network"] * len(sources), "source": ["iptables"] * len(sources)})

    def inside(text: str | None, networks: list[str]) -> bool:
        if text is None or not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", text):
            return False
        number = sum(int(part) << (8 * (3 - i)) for i, part in enumerate(text.split(".")))
        return any(int(n.network_address) <= number <= int(n.broadcast_address)
                   for n in map(ipaddress.ip_network, networks))

    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    expected = [i for i, (s, d) in enumerate(zip(frame["src_ip"], frame["dst_ip"], strict=True))
                if inside(s, private) and not inside(d, [*private, "127.0.0.0/8"])]
    assert match(frame, comp.rules, scoped=False)["__row"].to_list() == expected
    rule = SigmaCollection.from_yaml((tmp_path / "r.yml").read_text(encoding="utf-8"))
    [alone] = PolarsBackend(processing_pipeline=events_pipeline()).convert(rule)
    assert frame.with_row_index("i").filter(alone)["i"].to_list() == expected
    assert expected == [0, 6, 8]  # 10.0.0.0, 192.168.1.1 and 010.1.1.1 sent to public addresses


def test_a_list_of_whole_values_is_one_membership_test_with_the_same_rows() -> None:
    """`field: [a, b, ...]` of whole strings (any case) or of numbers (against numbers or their text)
    is converted as one `is_in`, and selects what comparing each value selects; lists with a
    wildcard, `|cased` or mixed kinds stay comparisons."""
    class OneByOne(PolarsBackend):
        def decide_convert_condition_as_in_expression(self, cond, state):  # type: ignore[no-untyped-def]
            return False

    frame = pl.DataFrame({
        "http_method": ["PROPFIND", "propfind", "Get", None, "MKCOL", "TRACEX", "track", ""],
        "dst_port": ["23", "23.0", "5900", None, "telnet", "0023", "21", "x"],
        "port_number": [23, 5900, 22, None, 21, 0, 5901, 23],
    })
    detections = [
        "  sel:\n    http_method: [PROPFIND, mkcol, Track, '']\n  condition: sel",
        "  sel:\n    dst_port: [21, 23, 5900]\n  condition: sel",
        "  sel:\n    port_number: [21, 23, 5900]\n  condition: sel",
        "  sel:\n    http_method: [PROPFIND, 'TRACE*']\n  condition: sel",  # a wildcard: compared one by one
        "  sel:\n    http_method|cased: [PROPFIND, track]\n  condition: not sel",
    ]
    for detection in detections:
        rule = SigmaCollection.from_yaml(f"title: t\nlogsource: {{category: webserver}}\ndetection:\n{detection}\n")
        [fast] = PolarsBackend().convert(rule)
        [slow] = OneByOne().convert(rule)
        rows = frame.with_row_index("i")
        assert rows.filter(fast)["i"].to_list() == rows.filter(slow)["i"].to_list(), detection
    [methods] = PolarsBackend().convert(SigmaCollection.from_yaml(
        f"title: t\nlogsource: {{category: webserver}}\ndetection:\n{detections[0]}\n"))
    assert "is_in" in str(methods)
    assert frame.with_row_index("i").filter(methods)["i"].to_list() == [0, 1, 4, 6, 7]


def _times_over_a_new_year() -> pl.DataFrame:
    """Every 37 minutes from mid-December to mid-January (UTC): each hour, minute and day of the
    month, the ISO week turning from 52/53 to 1, two months and two years, on Lanzhou's clock."""
    start = dt.datetime(2026, 12, 15, tzinfo=dt.UTC)
    times = [start + dt.timedelta(minutes=37 * i) for i in range(1_600)]
    return pl.DataFrame({"ts": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
                         "url_query": ["q=1"] * len(times)}).with_row_index("i")


def _expected(times: pl.DataFrame, keep: Callable[[dt.datetime], bool]) -> list[int]:
    lanzhou = ZoneInfo("Asia/Shanghai")
    return [i for i, t in zip(times["i"], times["ts"], strict=True) if keep(t.astimezone(lanzhou))]


@pytest.mark.parametrize(
    ("detection", "keep"),
    [
        ("ts|hour: 3", lambda t: t.hour == 3),
        ("ts|hour: [0, 1, 2]", lambda t: t.hour in (0, 1, 2)),  # a list: any of the hours, not the times
        ("ts|hour|gte: 22", lambda t: t.hour >= 22),
        ("ts|minute|lt: 5", lambda t: t.minute < 5),
        ("ts|day: 1", lambda t: t.day == 1),
        ("ts|week: 1", lambda t: t.isocalendar()[1] == 1),
        ("ts|month: 12", lambda t: t.month == 12),
        ("ts|year|gt: 2026", lambda t: t.year > 2026),
    ],
)
def test_timestamp_parts_are_read_on_the_provinces_clock(detection: str, keep: Callable[[dt.datetime], bool]) -> None:
    """`|hour: 3` is three at night in Lanzhou (UTC+8): the part of the local time, compared as a
    number, never the timestamp itself compared with 3 (which matched nothing, or with `|gte`
    everything)."""
    times = _times_over_a_new_year()
    field, value = detection.split(": ")
    rule = SigmaCollection.from_yaml(f"title: t\nlogsource: {{category: webserver}}\ndetection:\n"
                                     f"  sel:\n    {field}: {value}\n  condition: sel\n")
    [expr] = PolarsBackend().convert(rule)
    found = times.filter(expr)["i"].to_list()
    assert found == _expected(times, keep)
    assert 0 < len(found) < times.height


def test_timestamp_parts_of_a_field_that_holds_no_time_are_refused(tmp_path: Path) -> None:
    """Through compile_rules (which knows the events' time columns) a part of a text field is a
    failed rule naming the field, not a predicate that breaks the first chunk it meets."""
    (tmp_path / "night.yml").write_text("title: night query\nlogsource: {category: webserver}\n"
                                        "detection:\n  sel:\n    cs-uri-query|hour: 3\n  condition: sel\n",
                                        encoding="utf-8")
    compiled = compile_rules([tmp_path])
    assert compiled.rules == []
    [(where, reason)] = compiled.failed
    assert where.endswith("night.yml") and "hour" in reason and "url_query" in reason and "ts" in reason


@pytest.mark.parametrize(
    ("modifier", "keep"),
    [
        ("", lambda a, b: a == b),
        ("|startswith", lambda a, b: a.startswith(b)),
        ("|endswith", lambda a, b: a.endswith(b)),
        ("|contains", lambda a, b: b in a),
    ],
)
def test_field_references_with_startswith_endswith_contains(modifier: str, keep: Callable[[str, str], bool]) -> None:
    """`url_query|fieldref|contains: referer`: the field holds the other field's value (any case);
    these forms were compared as equal before. A null on either side matches nothing, so a `not`
    keeps the row."""
    pairs = [("id=ABC", "abc"), ("abc", "ABC"), ("abcz", "abc"), ("zabc", "abc"), ("xabcx", "abc"),
             ("a.c", "abc"), ("%", "%"), ("", ""), (None, "abc"), ("abc", None)]
    frame = pl.DataFrame({"url_query": [a for a, _ in pairs], "referer": [b for _, b in pairs]}).with_row_index("i")
    rule = SigmaCollection.from_yaml(f"title: t\nlogsource: {{category: webserver}}\ndetection:\n"
                                     f"  sel:\n    url_query|fieldref{modifier}: referer\n  condition: sel\n")
    [expr] = PolarsBackend().convert(rule)
    expected = [i for i, (a, b) in enumerate(pairs) if a is not None and b is not None and keep(a.lower(), b.lower())]
    assert frame.filter(expr)["i"].to_list() == expected
    assert frame.filter(~expr)["i"].to_list() == [i for i in range(len(pairs)) if i not in expected]


def test_an_unfilled_placeholder_is_a_failed_rule_not_a_silent_one(tmp_path: Path) -> None:
    """`|expand` with `%admin_ips%`: nothing fills the placeholder, and matching its name as text
    would never match; the rule fails, naming the placeholder and what to do instead."""
    (tmp_path / "admins.yml").write_text(
        "title: admin console from elsewhere\nlogsource: {category: webserver}\ndetection:\n"
        "  sel:\n    cs-uri-stem|startswith: /admin\n  admins:\n    c-ip|expand: '%admin_ips%'\n"
        "  condition: sel and not admins\n", encoding="utf-8")
    compiled = compile_rules([tmp_path])
    assert compiled.rules == []
    [(_, reason)] = compiled.failed
    assert "%admin_ips%" in reason and "|expand" in reason
