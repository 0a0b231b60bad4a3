"""Our engine and pySigma's SQLite backend (the engine behind Zircolite) select the same events, rule by rule.

The events: the Elastic Apache access logs, every access log of the sample logs, lines built from
each SigmaHQ webserver rule's own values to trigger it (as written and percent-encoded), and a few
lines at the edges of string matching. They go through our combined-format parser, then into
match(..., decode=False), and into an SQLite table whose columns are named as the rules name them
(tests/sigma_events.py); every rule is converted by pySigma's SQLite backend with no processing
pipeline and run there.

The two agree on every rule and every row except where they deliberately differ (DIFFERENCES):

- Case-insensitivity: ours is Unicode (a value's lowercase, or regex case folding), SQLite's LIKE
  and NOCASE fold ASCII letters only. So `=cmd+/K+` written with U+212A KELVIN SIGN, and `ÜBER`
  for a rule's `über`, match in ours only. We keep ours: the Sigma specification asks for
  case-insensitive matching, and folding only ASCII lets a payload in non-ASCII capitals through.

Things that could have differed and, checked here, do not: missing fields under `not` (the SQLite
backend wraps every NOT in COALESCE, our leaves treat null as no match), `null` values (our parser
stores `-` and empty fields as null), regular expressions (Python's re for SQLite, Rust's regex for
us, on the patterns these rules use), CIDR (expanded to LIKE prefixes there, compared as numbers
here), `|cased` (GLOB), `?` wildcards, numeric comparisons, keywords (LIKE on the raw line).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from sigma.collection import SigmaCollection

from secaware.detect.engine import ROW, match
from secaware.detect.rules import compile_rules
from secaware.schema import EVENTS, conform
from tests.conftest import ROOT, SHARED, parse_frame
from tests.sigma_events import sqlite_backend, sqlite_events, sqlite_hits, sqlite_query, trigger_lines

SIGMAHQ = SHARED / "sigmahq"

#: Rules of shapes the public webserver rules do not use, with lines that trigger them below.
EXTRA_RULES = """
title: non-ASCII letters in any case
id: 5b0c8a7e-0001-4f00-9000-000000000001
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: 'über'
  condition: sel
---
title: regex on the user agent
id: 5b0c8a7e-0001-4f00-9000-000000000002
logsource: {category: webserver}
detection:
  sel:
    cs-user-agent|re|i: '^mozilla/5\\.0 \\(compatible; [a-z]+bot/\\d'
  condition: sel
---
title: cased path with wildcards
id: 5b0c8a7e-0001-4f00-9000-000000000003
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|cased: '/Admin/*.ph?'
  condition: sel
---
title: client networks
id: 5b0c8a7e-0001-4f00-9000-000000000004
logsource: {category: webserver}
detection:
  sel:
    c-ip|cidr:
      - '203.0.113.0/24'
      - '66.249.64.0/20'
      - '2001:db8::/32'
  condition: sel
---
title: big error responses, no referer
id: 5b0c8a7e-0001-4f00-9000-000000000005
logsource: {category: webserver}
detection:
  sel:
    sc-status|gte: 400
    sc-bytes|gt: 10000
  filter:
    cs-referer|exists: true
  condition: sel and not filter
---
title: single-character wildcard and null query
id: 5b0c8a7e-0001-4f00-9000-000000000006
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|endswith: '/index.ph?'
  noquery:
    cs-uri-query: null
  condition: sel and not noquery
---
title: all keywords, one a number
id: 5b0c8a7e-0001-4f00-9000-000000000007
logsource: {category: webserver}
detection:
  keywords:
    '|all':
      - 'wp-login'
      - 404
  condition: keywords
"""

#: Lines at the edges: non-ASCII capitals, networks, cased paths, big errors.
EDGE_LINES = [
    '185.220.101.7 - - [28/Nov/2026:10:00:01 +0800] "GET /shell.php?c=cmd+/\u212a+dir HTTP/1.1" 200 512 "-" "curl/8.5.0"',
    '185.220.101.7 - - [28/Nov/2026:10:00:02 +0800] "GET /shell.php?c=cmd+/K+dir HTTP/1.1" 200 512 "-" "curl/8.5.0"',
    '61.178.20.5 - - [28/Nov/2026:10:00:03 +0800] "GET /search?q=\u00dcBER+uns HTTP/1.1" 200 9000 "-" "Mozilla/5.0"',
    '61.178.20.5 - - [28/Nov/2026:10:00:04 +0800] "GET /search?q=\u00fcber+uns HTTP/1.1" 200 9000 "-" "Mozilla/5.0"',
    '203.0.113.77 - - [28/Nov/2026:10:00:05 +0800] "GET /Admin/login.php HTTP/1.1" 200 100 "-" "Mozilla/5.0"',
    '203.0.114.1 - - [28/Nov/2026:10:00:06 +0800] "GET /admin/login.php HTTP/1.1" 500 20000 "-" "Mozilla/5.0"',
    '66.249.79.12 - - [28/Nov/2026:10:00:07 +0800] "GET /Admin/x.phx HTTP/1.1" 404 15000 "-" '
    '"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"',
    '2001:db8:5::1 - - [28/Nov/2026:10:00:08 +0800] "GET /index.php?id=1 HTTP/1.1" 200 10 "-" "Mozilla/5.0"',
    '2001:db9::1 - - [28/Nov/2026:10:00:09 +0800] "GET /wp-login.php HTTP/1.1" 404 10 "-" "Mozilla/5.0"',
]

#: Rule title -> which rows ours alone matches, deliberately (see the module docstring).
DIFFERENCES: dict[str, Callable[[pl.DataFrame], pl.Series]] = {
    "Windows Webshell Strings": lambda ev: ev["raw"].str.contains("\u212a", literal=True),
    "non-ASCII letters in any case": lambda ev: ev["url_query"].str.contains("\u00dcBER", literal=True),
}


def webserver_rule_files() -> list[Path]:
    return [p for p in sorted(SIGMAHQ.rglob("*.yml")) if "category: webserver" in p.read_text(encoding="utf-8")]


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    extra = tmp_path_factory.mktemp("rules") / "extra.yml"
    extra.write_text(EXTRA_RULES, encoding="utf-8")
    return [*webserver_rule_files(), extra]


def web_event_lines(datasets: Path, files: list[Path]) -> list[str]:
    """Real access logs, the sample logs' and lines built to trigger each rule."""
    lines = (datasets / "elastic_apache_logs" / "apache_logs_17-18may").read_text(encoding="utf-8").splitlines()
    for log in sorted((ROOT / "sample_logs").rglob("access.log*")):
        lines += log.read_text(encoding="utf-8").splitlines()
    rules = SigmaCollection.load_ruleset([str(f) for f in files], collect_errors=True).rules
    return lines + trigger_lines(rules) + EDGE_LINES


@pytest.fixture(scope="module")
def web_events(datasets: Path, rule_files: list[Path]) -> pl.DataFrame:
    parsed = parse_frame("combined", web_event_lines(datasets, rule_files))
    assert parsed["_reject"].null_count() / parsed.height > 0.99
    return conform(parsed.filter(pl.col("_reject").is_null()), EVENTS).collect()


def test_our_engine_and_the_sqlite_backend_select_the_same_events(web_events: pl.DataFrame,
                                                                  rule_files: list[Path]) -> None:
    compiled = compile_rules(rule_files)
    assert len(compiled.rules) >= 90
    ours = match(web_events, compiled.rules, decode=False)
    connection = sqlite_events(web_events)
    backend = sqlite_backend()
    sigma = {str(r.id): r for r in SigmaCollection.load_ruleset([str(f) for f in rule_files],
                                                                collect_errors=True).rules}
    fired, differences = 0, {}
    for i, rule in enumerate(compiled.rules):
        mine = set(ours.filter(pl.col("rule") == i)[ROW].to_list())
        theirs = sqlite_hits(connection, sqlite_query(sigma[rule.rule_id], backend))
        fired += bool(mine)
        if mine != theirs:
            differences[rule.title] = (mine - theirs, theirs - mine)
    assert set(differences) == set(DIFFERENCES), differences
    for title, (ours_only, theirs_only) in differences.items():
        expected = set(web_events.with_row_index(ROW).filter(DIFFERENCES[title](web_events))[ROW].to_list())
        assert (ours_only, theirs_only) == (expected, set()), title
    # the lines built from the rules do trigger them: all but one, whose field combined logs lack (cs-host)
    assert fired >= len(compiled.rules) - 1


# --------------------------------------------------------------------------------------------
# Random rules of every shape the SQLite backend also converts
# --------------------------------------------------------------------------------------------

#: Sigma name -> events column, for the fields random rules use.
RANDOM_FIELDS = {"cs-uri-query": "url_query", "cs-uri-stem": "url_path", "cs-user-agent": "user_agent",
                 "cs-referer": "referer", "cs-method": "http_method", "c-ip": "src_ip", "sc-status": "http_status"}
_REGEX_TAILS = ["", ".*", r"\d", "[a-z]+", "$"]
_TEXT_FIELDS = ["cs-uri-query", "cs-uri-stem", "cs-user-agent", "cs-referer", "cs-method"]


class RandomRules:
    """Rules made of values cut from the events themselves (so that they match some), every
    modifier and condition shape the two backends share, wildcards and escapes, case flipped at
    random; only ASCII values, since case folding beyond ASCII is where the two deliberately differ."""

    def __init__(self, events: pl.DataFrame, seed: int) -> None:
        self.rng = random.Random(seed)
        self.values = {f: [str(v) for v in events[c].drop_nulls().unique().sort().to_list() if str(v).isascii()]
                       for f, c in RANDOM_FIELDS.items()}
        self.raw = [r for r in events["raw"].to_list() if r.isascii()]

    @staticmethod
    def _quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def _value(self, field: str) -> str:
        return self.rng.choice(self.values[field])

    def _piece(self, field: str) -> str:
        value = self._value(field)
        start = self.rng.randrange(len(value)) if value else 0
        piece = value[start: start + self.rng.randint(1, 12)]
        if self.rng.random() < 0.3:
            piece = "".join(c.upper() if self.rng.random() < 0.5 else c.lower() for c in piece)
        return piece

    def _wild(self, text: str) -> str:
        """Sigma's escapes for the value's own `\\`, `*`, `?`, then maybe a wildcard inside."""
        text = text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
        if len(text) > 2 and self.rng.random() < 0.3:
            cut = self.rng.randrange(1, len(text))
            text = text[:cut] + self.rng.choice("*?") + text[cut:]
        return text

    def _item(self) -> str:
        field = self.rng.choice(list(RANDOM_FIELDS))
        q, rng = self._quoted, self.rng
        if field == "sc-status":
            return f"{field}{rng.choice(['', '|gt', '|gte', '|lt', '|lte', '|neq'])}: {rng.choice([200, 304, 404, 500])}"
        if field == "c-ip":
            address = self._value(field)
            parts = address.split(".")
            if len(parts) == 4 and rng.random() < 0.7:
                bits = rng.choice([8, 16, 24, 32])
                return f"{field}|cidr: {'.'.join(parts[:bits // 8] + ['0'] * (4 - bits // 8))}/{bits}"
            return f"{field}: {q(address)}"
        shapes: list[Callable[[], str]] = [
            lambda: f"{field}: {q(self._wild(self._value(field)))}",
            lambda: f"{field}|contains: {q(self._wild(self._piece(field)))}",
            lambda: f"{field}|startswith: {q(self._wild(self._value(field)[:rng.randint(1, 8)]))}",
            lambda: f"{field}|endswith: {q(self._wild(self._value(field)[-rng.randint(1, 8):]))}",
            lambda: (f"{field}|contains|all:\n      - {q(self._wild(self._piece(field)))}\n"
                     f"      - {q(self._wild(self._piece(field)))}"),
            lambda: f"{field}|contains|cased: {q(self._wild(self._piece(field)))}",
            lambda: f"{field}|re: {q(re.escape(self._piece(field)) + rng.choice(_REGEX_TAILS))}",
            lambda: f"{field}|exists: {rng.choice(['true', 'false'])}",
            lambda: f"{field}: null",
            lambda: f"{field}|windash|contains: {q('-' + self._piece(field))}",
            self._fieldref,
            lambda: f"{field}:\n      - {q(self._wild(self._value(field)))}\n      - {q(self._wild(self._value(field)))}",
        ]
        return rng.choice(shapes)()

    def _fieldref(self) -> str:
        """A field compared with another: mostly the referer with the path, which a page's own
        links make equal, contained or a suffix (`http://site/` and `/`)."""
        pair = self.rng.choice([("cs-referer", "cs-uri-stem"), ("cs-uri-stem", "cs-referer"),
                                tuple(self.rng.sample(_TEXT_FIELDS, 2))])
        modifier = self.rng.choice(["", "|startswith", "|endswith", "|contains"])
        return f"{pair[0]}|fieldref{modifier}: {pair[1]}"

    def rule(self, n: int) -> str:
        rng = self.rng
        selections = {name: "\n".join("    " + self._item() for _ in range(rng.randint(1, 2)))
                      for name in ["a", "b", "c"][: rng.randint(1, 3)]}
        detection = "".join(f"  {name}:\n{items}\n" for name, items in selections.items())
        names = list(selections)
        if rng.random() < 0.15:
            line = rng.choice(self.raw)
            start = rng.randrange(len(line))
            detection += f"  keywords:\n    - {self._quoted(self._wild(line[start: start + rng.randint(2, 10)]))}\n"
            names.append("keywords")
        condition = rng.choice([names[0], f"not {names[0]}", " and ".join(names), " or ".join(names),
                                "1 of them", "all of them", f"{names[0]} and not {names[-1]}"])
        return (f"title: random {n}\nid: 00000000-0000-4000-8000-{n:012d}\nlogsource: {{category: webserver}}\n"
                f"detection:\n{detection}  condition: {condition}\n")


def test_random_rules_select_what_the_sqlite_backend_selects(web_events: pl.DataFrame, tmp_path: Path) -> None:
    """A differential test over rule shapes no public rule combines: 150 random rules (seeded), each
    compared with SQLite, and with itself without the prefilter (as logged and decoded). Rows holding
    a character that lowercases to ASCII (the deliberate difference above) are left out."""
    events = web_events.filter(~pl.col("raw").str.contains("[\u212a\u0130\u017f]"))
    connection = sqlite_events(events)
    backend = sqlite_backend()
    rules = RandomRules(events, seed=20261129)
    fired = 0
    for n in range(150):
        text = rules.rule(n)
        path = tmp_path / f"random{n}.yml"
        path.write_text(text, encoding="utf-8")
        compiled = compile_rules([path])
        assert not compiled.failed, (compiled.failed, text)
        [rule] = compiled.rules
        ours = set(match(events, [rule], decode=False)[ROW].to_list())
        [sigma] = SigmaCollection.from_yaml(text).rules
        assert ours == sqlite_hits(connection, sqlite_query(sigma, backend)), text
        assert ours == set(match(events, [rule], decode=False, prefilter=False)[ROW].to_list()), text
        decoded = match(events, [rule])[ROW].to_list()
        assert decoded == match(events, [rule], prefilter=False)[ROW].to_list(), text
        fired += 0 < len(ours) < events.height
    assert fired >= 50  # most rules select some rows and not others: the comparison says something
