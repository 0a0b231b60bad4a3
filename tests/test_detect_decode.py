"""Decoding what the attacker sent: each layer alone, layered, and a whole column against value-by-value decoding."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest

from secaware.detect.decode import DECODED_COLUMNS, decode_frame, decode_series, decode_value


@pytest.mark.parametrize(
    ("value", "plus", "decoded"),
    [
        # percent-encoding, one layer and double (%25 is the percent sign itself)
        ("id=1%27%20OR%201%3D1", True, "id=1' OR 1=1"),
        ("%252e%252e%252fetc%252fpasswd", False, "../etc/passwd"),
        ("%25252e%25252e%25252f", False, "../"),  # three layers deep
        ("%2525252e", False, "%2e"),  # a fourth layer is left as it is
        ("%2E%2e%2F", False, "../"),  # either case of hex digit
        # `+` is a space in query strings, not in paths or headers
        ("q=union+select", True, "q=union select"),
        ("/c++/index.html", False, "/c++/index.html"),
        ("q=a%2Bb", True, "q=a+b"),  # an encoded plus stays a plus
        # nginx's \xHH escapes of bytes it will not log, and IIS %uXXXX
        ("/index.php?s=\\x5Cthink\\x5Capp", False, "/index.php?s=\\think\\app"),
        ("GET /\\xE5\\x85\\xB0\\xE5\\xB7\\x9E HTTP/1.1", False, "GET /兰州 HTTP/1.1"),
        ("%u0027%u003cscript%u003e", False, "'<script>"),
        ("..%uff0e%u2215", False, "..．∕"),
        # Chinese forms: UTF-8, else GB18030 (GBK) bytes
        ("kw=%E5%85%B0%E5%B7%9E", True, "kw=兰州"),
        ("kw=%C0%BC%D6%DD", True, "kw=兰州"),  # GBK
        ("\\xC0\\xBC\\xD6\\xDD", False, "兰州"),
        ("%FF%FE%FD", False, "\ufffd\ufffd\ufffd"),  # neither: replacement characters, never an error
        ("..%c0%af..%c0%af", False, "..蜡..蜡"),  # overlong UTF-8 is no slash (it reads as GB18030 here)
        # a stray high byte never swallows the ASCII letter after it, as a GB18030 reading would
        ("1%a0union%a0select%a0password", False, "1\ufffdunion\ufffdselect\ufffdpassword"),
        ("%81%30%81%30or", False, "\ufffd0\ufffd0or"),  # GB18030's four bytes hold digits
        ("kw=%C0%BC%D6%DD%a0x", True, "kw=\ufffd\ufffd\ufffd\u0760x"),  # all bytes high: may pair up
        # Apache's escape of a double quote (nginx writes \x22): the quote the application received
        ('x=O:8:\\"stdClass\\":0:{}', True, 'x=O:8:"stdClass":0:{}'),
        ('SYSTEM \\"file:///etc/passwd\\"', False, 'SYSTEM "file:///etc/passwd"'),
        ('%5C%22', False, '\\"'),  # decoded from percent-escapes: not Apache's escape, left as it is
        # HTML character references, decimal and hex, with or without the semicolon
        ("&#60;script&#x3e;", False, "<script>"),
        ("&#x3C&#X3E", False, "<>"),
        ("%26%2360%3B", False, "<"),  # an entity hidden under percent-encoding
        ("&#0;&#x110000;&#xD800;", False, "&#0;&#x110000;&#xD800;"),  # not characters: kept
        # nothing (valid) to decode: the value as logged
        ("100% sure", False, "100% sure"),
        ("%zz%4", False, "%zz%4"),
        ("%%41", False, "%A"),
        ("\\x", False, "\\x"),
        ("plain/path.html", False, "plain/path.html"),
        ("", True, ""),
    ],
)
def test_decode_value(value: str, plus: bool, decoded: str) -> None:
    assert decode_value(value, plus) == decoded


def test_decode_series_keeps_values_as_logged_and_nulls() -> None:
    values = pl.Series(["/a.html", None, "q=%27+or+1", "+0800", "x%2"])
    assert decode_series(values, plus_is_space=True).to_list() == ["/a.html", None, "q=' or 1", " 0800", "x%2"]
    assert decode_series(values, plus_is_space=False).to_list() == ["/a.html", None, "q='+or+1", "+0800", "x%2"]
    assert values.to_list() == ["/a.html", None, "q=%27+or+1", "+0800", "x%2"]  # the input is untouched


def test_decode_frame_decodes_only_matchable_text_columns() -> None:
    frame = pl.DataFrame({"url_query": ["a=%41+b"], "url_path": ["/%41+b"], "user": ["%41"], "http_status": [200]})
    out = decode_frame(frame)
    assert out.row(0) == ("a=A b", "/A+b", "%41", 200)
    assert set(DECODED_COLUMNS) >= {"url_query", "url_path", "raw", "user_agent", "referer"}


def _payloads(datasets: Path) -> list[str]:
    root = datasets / "payloads" / "PayloadsAllTheThings"
    values: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and "Intruder" in str(path.parent):
            values += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return values


def test_a_column_decodes_as_each_value_does(datasets: Path) -> None:
    """Every published traversal/injection payload, as sent and URL-encoded once and twice, in a column
    with clean values and nulls: decode_series agrees with decode_value on each."""
    payloads = _payloads(datasets)
    assert len(payloads) > 30_000
    once = [quote(p, safe="/=&") for p in payloads[::7]]
    twice = [quote(p, safe="") for p in once[::5]]
    gbk = ["kw=" + quote("兰州市政务服务".encode("gb18030")) + f"&p={i}" for i in range(50)]
    values = [*payloads, *once, *twice, *gbk, None, "/index.html", "+0800 x", "\\xE5\\x85\\xB0"]
    column = pl.Series(values, dtype=pl.String)
    for plus in (True, False):
        expected = [None if v is None else decode_value(v, plus) for v in values]
        assert decode_series(column, plus_is_space=plus).to_list() == expected


def test_a_column_of_random_escapes_decodes_as_each_value_does() -> None:
    """Values cut from escape fragments at random, next to each other in one column (a value that ends
    in a half escape is followed by one that starts with hex digits)."""
    import random

    rng = random.Random(5)
    pieces = ["%", "%2", "%25", "%41", "%4", "1", "a", "F", "+", "&#", "60;", "x3c", "\\x", "\\xE5", "%E5%85%B0",
              "%C0%BC", "%c0%af", "%u", "%u0041", "u0041", "兰", "é", " ", "%FF", "%2B", "%26%23", "%5Cx41", "",
              '\\"', "\\", '"']
    values = ["".join(rng.choices(pieces, k=rng.randint(0, 8))) for _ in range(20_000)]
    column = pl.Series(values, dtype=pl.String)
    for plus in (True, False):
        assert decode_series(column, plus_is_space=plus).to_list() == [decode_value(v, plus) for v in values]


def test_a_frame_decoded_in_pieces_is_the_frame_decoded_whole(datasets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Long columns are decoded in pieces side by side: the same values, the same changed rows, even
    where one piece changes nothing and another changes everything."""
    from secaware.detect import decode

    payloads = [quote(p, safe="/=&") for p in _payloads(datasets)[::11]]
    clean = ["/index.html"] * 3000
    frame = pl.DataFrame({"url_query": clean + payloads + [None], "raw": payloads + clean + ["+0800"]})
    whole, whole_changed = decode.decode_frame_changes(frame)
    monkeypatch.setattr(decode, "PIECE_ROWS", 2500)
    pieces, pieces_changed = decode.decode_frame_changes(frame)
    assert whole_changed is not None and pieces_changed is not None and 0 < whole_changed.sum() < frame.height
    assert pieces.equals(whole)
    assert pieces_changed.equals(whole_changed)


def test_log_lines_decoded_by_their_quoted_fields_are_decoded_as_whole_lines(datasets: Path) -> None:
    """Log lines are decoded a piece between quotes at a time (the request, referer and user agent
    repeat): every line comes out as decode_value makes of the whole line, including lines where
    one field is GB18030, holds nginx \\x escapes, %u or entities (then the whole line is decoded
    at once, since the UTF-8/GB18030 choice is made for a whole value), quotes escaped inside a
    field, and escapes cut off by a quote."""
    import random

    from secaware.detect.decode import decode_changes

    rng = random.Random(11)
    payloads = _payloads(datasets)[::13]
    requests = ([f"GET /search?q={quote(p, safe='')} HTTP/1.1" for p in payloads[:3000]]
                + [f"GET /{p} HTTP/1.1" for p in payloads[3000:4000]]
                + ["GET /kw=" + quote("兰州".encode("gb18030")) + " HTTP/1.1", "GET /\\xE5\\x85\\xB0 HTTP/1.1",
                   "GET /?a=%u0027&b=&#60; HTTP/1.1", "GET /%2", "GET /a%", "GET /%E5%85"])
    referers = ["-", "https://www.gansu.gov.cn/?q=%E5%85%B0", "http://x/%c0%af", "%22%25"]
    agents = ["Mozilla/5.0 (Windows NT 10.0)", "curl/8.0 %41", "sqlmap/1.7 \\x22x\\x22", 'a \\"b\\" c']
    lines = [f'10.0.{i % 250}.{i % 7} - - [29/Nov/2026:10:00:{i % 60:02d} +0800] "{rng.choice(requests)}" '
             f'{rng.choice([200, 404])} {i} "{rng.choice(referers)}" "{rng.choice(agents)}"' for i in range(20_000)]
    lines += ['"%41"%42""', '%"%41', "no quotes %41", '"', ""]
    column = pl.Series("raw", lines, dtype=pl.String)
    decoded, changed = decode_changes(column, plus_is_space=False, lines=True)
    expected = [decode_value(v, False) for v in lines]
    assert decoded.to_list() == expected
    assert changed is not None and changed.to_list() == [e != v for e, v in zip(expected, lines, strict=True)]
