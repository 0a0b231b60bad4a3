"""Which rows a rule could match at all, found for every rule at once with one scan per column.

Almost every Sigma rule names some text that must occur for it to match: `cs-uri-query|contains:
'union select'` cannot match a row whose query lacks those words, whatever else the rule says. From
each rule's condition tree this module derives such a necessary condition, a set of *terms*
(column, literal): the rule can only match a row where at least one of its terms occurs. Then each
column is scanned once for all the literals of all rules (Aho-Corasick, `str.contains_any`), and
rules are evaluated only on the rows some term hit. Web traffic is overwhelmingly benign, so that
is a few percent of the rows.

How a condition gives its terms:

- `a and b`: the terms of any one child (every child must hold); the most selective is taken.
- `a or b`: the union of the children's terms, if every child has some; otherwise none.
- a regular expression: itself (mode `regex`), searched for beforehand with every rule's other
  expressions on the same column: on the column's distinct values where they repeat, a few
  expressions at a time, and only on values holding one of its *gate* literals where it has any
  (`regex_gate`: literals rare in requests that every match needs, found with Python's re parser
  when the pattern has nothing the two regex dialects read differently).
- `not a`, numbers, CIDR, comparisons, field references, null and exists tests: none (nothing
  that must occur).
- a string: its text for whole-value, contains, startswith and endswith matches; for a value with
  inner wildcards (`/cgi-bin/*.sh`), its longest literal run.

A term is only useful if the test on a row is implied by the rule's own test, so the test follows
the backend's (backend.match_string) exactly:

- case-insensitive text (the default) is compared by the backend as `value.lower()` containing
  `text.lower()`. For an ASCII literal that is `value` containing the literal with ASCII case
  folding, except where `value` holds one of the three characters whose lowercase or case fold
  is ASCII (U+0130 -> i̇, U+212A KELVIN SIGN ~ k, U+017F LONG S ~ s): rows holding one of those
  are always candidates. A non-ASCII literal is looked up in the lowercased column itself.
- `|cased` text is looked up exactly as written.
- a wildcard value becomes a case-insensitive regex, whose case folding is Unicode simple case
  folding: an ASCII run is looked up like case-insensitive text (the same three characters cover
  folding); a non-ASCII run gives no term, since lowercasing is not case folding.

A rule without terms is evaluated on every row; one whose terms are too weak to narrow anything
(a literal of one or two characters, or `cs-method: GET`) is too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any, Literal

import numpy as np
import polars as pl
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaCasedString,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from secaware.detect.backend import ASCII_CLASSES, KEYWORD_COLUMN, PolarsBackend, _literal_shape
from secaware.detect.memo import MEMO
from secaware.detect.workers import run_all

#: Non-ASCII characters whose lowercase (U+0130) or simple case fold (U+017F, U+212A) is ASCII.
FOLDS_TO_ASCII = ("\u0130", "\u017f", "\u212a")

#: Shortest literal worth a prefilter: shorter ones occur in nearly every row.
MIN_LITERAL = 3

#: Columns whose few distinct values (GET, POST, HTTP/1.1) occur in most rows: never a useful term.
WEAK_COLUMNS = frozenset({"http_method", "http_version", "protocol", "source", "event_category", "outcome",
                          "action", "url_extension"})

Mode = Literal["ci", "lower", "exact", "regex"]


@dataclass(frozen=True, order=True)
class Term:
    """`text` occurs in `column`: with ASCII case folding (ci), in the lowercased column (lower), or as
    is (exact); or, in mode regex, the regular expression `text` matches `column`."""

    column: str
    text: str
    mode: Mode
    #: For a regular expression: literals of which one occurs wherever it matches (lowercase, found
    #: with ASCII case folding), so it is only run where they do; empty: run it everywhere.
    gate: frozenset[str] = frozenset()


Terms = frozenset[Term]


def necessary_terms(rule: Any) -> Terms | None:
    """Terms of which one occurs in every row the rule matches, or None if there is no such set.

    `rule` is a pySigma rule whose processing pipeline has been applied (fields are event columns),
    as after `backend.convert_rule(rule)`; a rule with several conditions matches if any does.
    """
    found = [_terms(c.parsed) for c in rule.detection.parsed_condition]
    if not found or any(t is None for t in found):
        return None
    terms = frozenset().union(*found)  # type: ignore[arg-type]
    return terms if _useful(terms) else None


def terms_suffice(rule: Any) -> bool:
    """Whether a row where one of the rule's terms occurs (as a real literal, not through a character
    that folds to ASCII) is a match: the rule is nothing but `contains` values, case-insensitive,
    and regular expressions, or'd. A regular expression's term is the expression itself, run as the
    backend runs it, so where it was found the rule matches.

    Then the prefilter's answer is the rule's, and the rule need not be evaluated on those rows.
    """
    def only_contains(cond: Any) -> bool:
        if isinstance(cond, ConditionOR):
            return all(only_contains(arg) for arg in cond.args)
        if isinstance(cond, ConditionFieldEqualsValueExpression | ConditionValueExpression):
            value = cond.value
            if isinstance(value, SigmaRegularExpression):
                return True
            if isinstance(value, SigmaCasedString) or not isinstance(value, SigmaString):
                return False
            if isinstance(cond, ConditionValueExpression):  # keywords: anywhere in the line (backend)
                if list(value.s)[:1] != [SpecialChars.WILDCARD_MULTI]:
                    value = SpecialChars.WILDCARD_MULTI + value
                if list(value.s)[-1:] != [SpecialChars.WILDCARD_MULTI]:
                    value = value + SpecialChars.WILDCARD_MULTI
            shape = _literal_shape(value)
            return shape is not None and shape[0] == "contains" and len(shape[1]) >= MIN_LITERAL
        return False

    return necessary_terms(rule) is not None and all(only_contains(c.parsed) for c in rule.detection.parsed_condition)


def _useful(terms: Terms) -> bool:
    return bool(terms) and all(t.column not in WEAK_COLUMNS and (t.mode == "regex" or len(t.text) >= MIN_LITERAL)
                               for t in terms)


def _strength(terms: Terms) -> tuple[int, int, int]:
    """Prefer sets that narrow most: usable at all, then literals (one scan finds them all) over
    regular expressions, then the longest weakest literal."""
    literal = all(t.mode != "regex" for t in terms)
    return (int(_useful(terms)), int(literal), min(len(t.text) for t in terms) if literal else 0)


def _terms(cond: Any) -> Terms | None:
    if isinstance(cond, ConditionAND):
        options = [t for t in map(_terms, cond.args) if t]
        return max(options, key=_strength) if options else None
    if isinstance(cond, ConditionOR):
        children = [_terms(arg) for arg in cond.args]
        if not children or any(not t for t in children):
            return None
        return frozenset().union(*children)  # type: ignore[arg-type]
    if isinstance(cond, ConditionNOT):
        return None
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _value_terms(cond.field, cond.value, keyword=False)
    if isinstance(cond, ConditionValueExpression):
        return _value_terms(KEYWORD_COLUMN, cond.value, keyword=True)
    return None


def _value_terms(column: str | None, value: Any, *, keyword: bool) -> Terms | None:
    if column is None:
        return None
    if isinstance(value, SigmaExpansion):
        children = [_value_terms(column, v, keyword=keyword) for v in value.values]
        if not children or any(not t for t in children):
            return None
        return frozenset().union(*children)  # type: ignore[arg-type]
    if isinstance(value, SigmaString):
        return _string_terms(column, value, keyword=keyword)
    if isinstance(value, SigmaRegularExpression):
        regexp = value.regexp.original if hasattr(value.regexp, "original") else str(value.regexp)
        # the rule's own expression, looked for beforehand (on the column's distinct values where they
        # repeat, and only where its literals occur): a regex's literals alone are often common words
        # (`html`, `load`, `image` from alternations of tag and statement names)
        gate = regex_gate(regexp) or ()
        return frozenset({Term(column, PolarsBackend._regex(value), "regex", frozenset(gate))})
    if keyword and isinstance(value, SigmaNumber):
        # backend: raw contains the number's decimal text, as is (digits: ASCII folding is a superset)
        text = str(value.number)
        return frozenset({Term(column, text, "ci")}) if text else None
    return None


def _string_terms(column: str, value: SigmaString, *, keyword: bool) -> Terms | None:
    cased = isinstance(value, SigmaCasedString)
    if keyword:  # backend.convert_condition_val_str: keywords match anywhere in the line
        if list(value.s)[:1] != [SpecialChars.WILDCARD_MULTI]:
            value = SpecialChars.WILDCARD_MULTI + value
        if list(value.s)[-1:] != [SpecialChars.WILDCARD_MULTI]:
            value = value + SpecialChars.WILDCARD_MULTI
    shape = _literal_shape(value)
    if shape is not None:  # backend: lowercased (or cased) equality, contains, startswith, endswith
        text = shape[1]
        if not text:
            return None
        if cased:  # an ASCII literal is looked up folded all the same (ci literals are kept lowercase)
            return frozenset({Term(column, text.lower(), "ci") if text.isascii() else Term(column, text, "exact")})
        text = text.lower()
        return frozenset({Term(column, text, "ci" if text.isascii() else "lower")})
    # backend: an anchored regex; case-insensitive ((?is)) unless cased
    runs = _literal_runs(value.s)
    if cased:
        best = max(runs, key=len, default="")
        if not best:
            return None
        return frozenset({Term(column, best.lower(), "ci") if best.isascii() else Term(column, best, "exact")})
    ascii_runs = [r for r in runs if r.isascii()]
    best = max(ascii_runs, key=len, default="")
    return frozenset({Term(column, best.lower(), "ci")}) if best else None


#: Syntax Rust's regex (which runs the rule) and Python's parser read differently: POSIX and nested
#: classes (`[[:alpha:]]`, `[a[b]]`) would leave Python a literal `]` that Rust never needs.
def _dialect_risk(pattern: str) -> bool:
    """Whether a `[` occurs inside a character class (escapes and the class's own brackets aside)."""
    in_class, i = False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            if char == "[":
                return True
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if pattern[i + 1: i + 2] == "]" or pattern[i + 1: i + 3] == "^]":  # `[]a]`: a literal ] first
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        i += 1
    return False


#: Characters common in URLs, headers and log lines: alone, no use as a gate.
_COMMON_CHARACTERS = frozenset("/.-_=&?%+:,~@!* ")
#: Words in nearly every request line, URL or header: no use as a gate either.
_COMMON_WORDS = ("http/1.", "https", ".html", "www.", ".com", "index", "mozilla")


def regex_gate(pattern: str) -> set[str] | None:
    """Literals, rare in requests, of which one occurs in every match of pattern (ASCII lowercase),
    or None.

    Attack syntax is punctuation and keywords: an expression such as `['"`)]\\s*(?:or|and)` needs
    one of a few quote characters, `(?:--|#|/\\*)` one of three short sequences that benign
    requests seldom hold. Literals are found as the prefilter finds them (ASCII case folding), so
    only ASCII text and uncased symbols count; a literal is rare enough if it holds an uncommon
    character (quotes, brackets, `$`, `;`, `|`, backslash, control characters), has at least three
    characters, or is a pair of punctuation characters (`--`, `/*`, `..`); the rarest set is taken.
    """
    if _dialect_risk(pattern):
        return None
    try:
        found = _gate(list(sre_parse.parse(pattern)))
    except (re.error, RecursionError, OverflowError, ValueError):  # a rule's pattern is input like any other
        return None
    return {lit.lower() for lit in found} if found else None


def _uncommon(char: str) -> bool:
    return not char.isalnum() and char not in _COMMON_CHARACTERS


def _uncased(code: int) -> bool:
    """A character the prefilter can look for as it is: ASCII (folded), or a symbol with no case."""
    char = chr(code)
    return code < 128 or unicodedata.category(char)[0] in "PSC"


def _rarity(literal: str) -> int:
    """How seldom a literal occurs in benign requests (0: too often to be worth looking for)."""
    if any(literal in word for word in _COMMON_WORDS):
        return 0
    if any(_uncommon(c) for c in literal):
        return 3 + len(literal)
    if len(literal) >= MIN_LITERAL:
        return len(literal)
    return 3 if len(literal) == 2 and not any(c.isalnum() for c in literal) else 0


def _characters(items: list[Any]) -> set[str] | None:
    """The characters a one-character expression (a literal or a class of literals) matches."""
    if len(items) != 1:
        return None
    op, arg = items[0]
    if op is sre.LITERAL and _uncased(arg):
        return {chr(arg)}
    if op is sre.IN and all(kind is sre.LITERAL and _uncased(code) for kind, code in arg):
        return {chr(code) for _, code in arg}
    return None


def _gate(items: list[Any]) -> set[str] | None:
    """Rare literals of which one occurs in every match of a sequence: its rarest required set."""
    options: list[set[str]] = []
    run = ""
    for op, arg in items:
        if op is sre.LITERAL and _uncased(arg):
            run += chr(arg)
            continue
        if run:
            options.append({run})
            run = ""
        child: set[str] | None = None
        if op is sre.IN:
            child = _characters([(op, arg)])
        elif op is sre.SUBPATTERN:
            child = _gate(list(arg[-1]))
        elif op is sre.BRANCH:
            branches = [_gate(list(b)) for b in arg[1]]
            child = set().union(*branches) if branches and all(branches) else None  # type: ignore[arg-type]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)) and arg[0] >= 1:
            chars = _characters(list(arg[2]))  # `\.{2,}`: two in a row
            child = {a + b for a in chars for b in chars} if chars and arg[0] >= 2 else _gate(list(arg[2]))
        if child:
            options.append(child)
    if run:
        options.append({run})
    scored = [(min(map(_rarity, o)), o) for o in options if o]
    scored = [(score, o) for score, o in scored if score > 0]
    return max(scored, key=lambda x: x[0])[1] if scored else None


def _literal_runs(parts: Iterable[Any]) -> list[str]:
    """The literal stretches between wildcards (and placeholders) of a Sigma string."""
    runs, current = [], ""
    for part in parts:
        if isinstance(part, str):
            current += part
        else:
            runs.append(current)
            current = ""
    runs.append(current)
    return [r for r in runs if r]


# --------------------------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------------------------


#: Columns with fewer distinct values than this share of a sample are scanned once per distinct value.
DISTINCT_SHARE = 0.3
_SAMPLE = 20_000
#: Regular expressions cost far more per value than a literal scan: worth the distinct values sooner.
REGEX_DISTINCT_SHARE = 0.7
#: Above this many literals a column is scanned with Aho-Corasick rather than one regex.
MAX_REGEX_LITERALS = 300
#: Literals Rust's regex looks for together with its SIMD search (Teddy handles up to 64).
TEDDY_LITERALS = 64


@dataclass
class ColumnScan:
    """What `Plan.mask` found in one column, per value searched: the column's distinct values where
    `codes` gives each row's (repetitive columns), else its rows.

    Answers stay per distinct value until a row's is asked for: spreading each of 64 expressions'
    answers over 500k rows and or-ing them was a tenth of the CPU (py-spy: numpy gathers and casts).
    """

    codes: np.ndarray | None
    #: the distinct values, where codes is given
    values: pl.Series | None
    #: where one of the column's literals occurs (None: it has none)
    literal: np.ndarray | None
    #: regular expression -> where it matched
    regex: dict[str, np.ndarray]
    #: per selected row, the position of its value (`select`)
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    def any(self) -> np.ndarray:
        """Per row, whether a literal or an expression was found."""
        # a column is scanned for its literals, its expressions or both: there is always one
        hit = np.logical_or.reduce([a for a in [self.literal, *self.regex.values()] if a is not None])
        return hit if self.codes is None else hit[self.codes]

    def select(self, rows: np.ndarray) -> None:
        """The rows `at` will be asked about (the positions mask selected)."""
        self.rows = rows if self.codes is None else self.codes[rows]

    def at_selected(self, found: np.ndarray) -> np.ndarray:
        """An answer (literal or one of regex) at the selected rows."""
        return found[self.rows]


@dataclass
class Plan:
    """Where the literals of a list of rules are looked for, and which rule each one stands for.

    Two stages: `mask` finds the rows where any literal occurs (one scan per column and mode);
    `pairs`, on those rows only, which literals occur, hence which rules are worth evaluating
    on which rows.
    """

    #: (column, mode) -> literal -> indexes of the rules it stands for
    literals: dict[tuple[str, Mode], dict[str, set[int]]]
    #: (column, regular expression) -> the literals it is only looked for where one occurs (Term.gate)
    gates: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    #: column -> what `mask` found in it
    scans: dict[str, ColumnScan] = field(default_factory=dict)
    #: positions of the rows `mask` returned true for
    selected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, rules: Iterable[tuple[int, Terms]]) -> Plan:
        literals: dict[tuple[str, Mode], dict[str, set[int]]] = {}
        gates: dict[tuple[str, str], frozenset[str]] = {}
        for index, terms in rules:
            for t in terms:
                literals.setdefault((t.column, t.mode), {}).setdefault(t.text, set()).add(index)
                if t.mode == "regex" and t.gate:  # characters that fold to ASCII stand for any literal
                    gates[(t.column, t.text)] = t.gate | frozenset(FOLDS_TO_ASCII)
        for (_column, mode), found in literals.items():
            if mode == "ci":  # rows holding a character that folds to ASCII are candidates for every such rule
                every = set().union(*found.values())
                for char in FOLDS_TO_ASCII:
                    found.setdefault(char, set()).update(every)
        return cls(literals, gates)

    def _haystack(self, column: str, mode: Mode) -> pl.Expr:
        return _haystack(pl.col(column).cast(pl.String), mode)

    def mask(self, view: pl.DataFrame) -> pl.Series:
        """True on rows where some literal occurs: the only rows the planned rules can match.

        Columns are scanned in parallel threads, each once for its literals and its regular
        expressions; a column with few distinct values (user agents, query strings) is scanned once
        per distinct value. Where each regular expression matched is kept for `pairs`.
        """
        columns = sorted({column for column, _ in self.literals})
        scans = run_all("columns", [partial(self._scan_column, view.get_column(column),
                                            sorted(self.literals.get((column, "regex"), ()))) for column in columns],
                        columns)
        self.scans = dict(zip(columns, scans, strict=True))
        mask = np.zeros(view.height, dtype=bool)
        for scan in scans:
            mask |= scan.any()
        self.selected = np.flatnonzero(mask)
        for scan in scans:
            scan.select(self.selected)
        return pl.Series(mask)

    def _scan_column(self, column: pl.Series, patterns: list[str]) -> ColumnScan:
        """Where a column holds one of its literals, and where each regex matched.

        On a column whose values do not repeat (the log line), the literals and the gates of the
        gated expressions are first looked for in one scan; both are then settled on the rows it
        found, a few percent. A column whose values repeat is searched once per distinct value,
        and a value an earlier chunk held is not searched again (memo.py).
        """
        distinct = distinct_values(column, REGEX_DISTINCT_SHARE if patterns else DISTINCT_SHARE)
        gates = {p: g for (c, p), g in self.gates.items() if c == column.name}
        literals = {mode: sorted(found) for (name, mode), found in self.literals.items()
                    if name == column.name and mode != "regex"}
        values, codes = distinct.values, distinct.codes
        if codes is None:
            if set(literals) <= {"ci"} and gates:  # one scan for both
                wanted = set(literals.get("ci", [])).union(*(gates[p] for p in patterns if p in gates))
                where = np.flatnonzero(_gate_hits(values, sorted(wanted)))
                found = self._found(values, where, literals)
                candidates = values.gather(where)
                gated = regex_scan(candidates, [p for p in patterns if p in gates], gates, Distinct(candidates, None))
                rows = {p: _spread(hit, where, values.len()) for p, hit in gated.items()}
                rows |= regex_scan(column, [p for p in patterns if p not in gates], gates, distinct)
                return ColumnScan(None, None, found, rows)
            return ColumnScan(None, None, self._found(values, np.arange(values.len()), literals),
                              regex_scan(column, patterns, gates, distinct))

        def search(new: pl.Series) -> pl.DataFrame:
            found = self._found(new, np.arange(new.len()), literals)
            hits = regex_scan(new, patterns, gates, Distinct(new, None))
            return pl.DataFrame({"literal": np.zeros(new.len(), dtype=bool) if found is None else found,
                                 **_packed([hits[p] for p in patterns], new.len())})

        asked = ("prefilter", column.name, tuple((mode, tuple(found)) for mode, found in sorted(literals.items())),
                 tuple(patterns), tuple(sorted((p, g) for p, g in gates.items() if p in patterns)))
        answers = MEMO.lookup(asked, values, search)
        return ColumnScan(codes, values, answers.get_column("literal").to_numpy() if literals else None,
                          dict(zip(patterns, _unpacked(answers, len(patterns)), strict=True)))

    @staticmethod
    def _found(values: pl.Series, where: np.ndarray, literals: dict[Mode, list[str]]) -> np.ndarray | None:
        """True on the values (those at `where`; elsewhere false) holding one of the literals."""
        if not literals:
            return None
        subset = values if where.size == values.len() else values.gather(where)
        hit = np.zeros(subset.len(), dtype=bool)
        for mode, found in literals.items():
            hit |= column_test(subset.to_frame("v"), _contains(_haystack(pl.col("v"), mode), found, mode))
        return _spread(hit, where, values.len())

    def pairs(self, view: pl.DataFrame) -> pl.DataFrame:
        """(position in view, rule, folded) for every rule one of whose literals occurs in that row;
        view is the frame given to `mask`, filtered by what it returned.

        `folded` is true when the only thing found is a character that folds to ASCII.
        """
        schema = {"pos": pl.UInt32, "rule": pl.UInt32, "folded": pl.Boolean}
        found_pairs = []
        for (column, mode), found in self.literals.items():
            if mode == "regex":
                found_pairs.append(self._regex_pairs(column, found))
                continue
            # only the rows where `mask` found one of this column's literals: a row is a candidate
            # for whatever any column holds (raw lines: 3k of the 60k candidates of a 500k chunk)
            scan = self.scans[column]
            where = np.flatnonzero(scan.at_selected(scan.literal))  # type: ignore[arg-type]
            hits = self._found_where(scan, view, column, where, mode, sorted(found))
            if not hits.height:
                continue
            rules = pl.DataFrame({"text": list(found), "rule": [sorted(r) for r in found.values()]},
                                 schema={"text": pl.String, "rule": pl.List(pl.UInt32)})
            found_pairs.append(hits.join(rules, on="text").explode("rule").select(
                "pos", "rule", pl.col("text").is_in(list(FOLDS_TO_ASCII)).alias("folded")))
        if not found_pairs:
            return pl.DataFrame(schema=schema)
        # a row found by a real literal is not `folded`, whatever else was found in it
        return pl.concat(found_pairs).group_by("pos", "rule").agg(pl.col("folded").all()).cast(schema)  # type: ignore[arg-type]

    def _found_where(self, scan: ColumnScan, view: pl.DataFrame, column: str, where: np.ndarray, mode: Mode,
                     literals: list[str]) -> pl.DataFrame:
        """(pos, text) of `_literals_found` on the rows at `where` of view; in a repetitive column
        looked for in each distinct value once (the 34k requests of a chunk's most common crawler
        hold 50 user agents)."""
        haystack = self._haystack(column, mode)
        if scan.values is None:
            hits = _literals_found(view[[column]][where], haystack, literals, mode)
            return hits.with_columns(pl.Series("pos", where[hits.get_column("pos").to_numpy()], dtype=pl.UInt32))
        distinct, inverse = np.unique(scan.rows[where], return_inverse=True)
        hits = _literals_found(scan.values.alias(column).gather(distinct).to_frame(), haystack, literals, mode)
        rows = pl.DataFrame({"pos": where.astype(np.uint32), "value": inverse.astype(np.uint32)})
        return rows.join(hits.rename({"pos": "value"}), on="value").select("pos", "text")

    def _regex_pairs(self, column: str, found: dict[str, set[int]]) -> pl.DataFrame:
        """(pos, rule, folded) for the regular expressions of column, from where `mask` found them."""
        pos, rule = [], []
        scan = self.scans[column]
        for pattern, indexes in found.items():
            where = np.flatnonzero(scan.at_selected(scan.regex[pattern])).astype(np.uint32)
            for index in sorted(indexes):
                pos.append(where)
                rule.append(np.full(where.size, index, dtype=np.uint32))
        return pl.DataFrame({"pos": np.concatenate(pos), "rule": np.concatenate(rule),
                             "folded": np.zeros(sum(p.size for p in pos), dtype=bool)})


#: Answers of this many regular expressions share one integer column of the memo.
_BITS = 64


def _packed(hits: list[np.ndarray], size: int) -> dict[str, np.ndarray]:
    """Per-expression answers (booleans) as the bits of 64-bit columns, `bits0`, `bits1`...

    The memo joins, copies and patches every column it keeps per value: the request lines' 64
    expressions as 64 boolean columns made that a sixth of the chunk's prefilter time on them
    (measured: 0.14 s of memo work against 0.03 s for 22 expressions on the paths).
    """
    out = {}
    for start in range(0, len(hits), _BITS):
        word = np.zeros(size, dtype=np.uint64)
        for bit, hit in enumerate(hits[start: start + _BITS]):
            word |= hit.astype(np.uint64) << np.uint64(bit)
        out[f"bits{start // _BITS}"] = word
    return out


def _unpacked(answers: pl.DataFrame, n: int) -> list[np.ndarray]:
    """The n per-expression answers `_packed` stored in answers (booleans, in order)."""
    words = [answers.get_column(f"bits{k}").to_numpy() for k in range(-(-n // _BITS))]
    return [((words[i // _BITS] >> np.uint64(i % _BITS)) & np.uint64(1)).astype(bool) for i in range(n)]


#: Regular expressions are looked for together, a few in one expression, where that is safe.
REGEX_GROUP = 8
#: A counted repeat up to this many (`[^&]{0,60}`) makes an expression run on its own: in one
#: expression with others, the automaton Rust builds for it grows past its cache and the search
#: falls back to a slow engine (measured: a 0.02 s search took 12 s in a group).
MAX_GROUPED_REPEAT = 15


@dataclass
class Distinct:
    """The values of a column as searched: its distinct values and, per row, which one it holds
    (codes); or, where values hardly repeat, the column itself (codes None)."""

    values: pl.Series
    codes: np.ndarray | None


def distinct_values(column: pl.Series, share: float) -> Distinct:
    """The column's distinct values, if a sample has at most `share` distinct values per row."""
    text = column.cast(pl.String)
    found = repeated_rows(text.to_frame("v"), share)
    return Distinct(text, None) if found is None else Distinct(found[0].get_column("v"), found[1])


def repeated_rows(keys: pl.DataFrame, share: float, sample: int = _SAMPLE) -> tuple[pl.DataFrame, np.ndarray] | None:
    """distinct_rows(keys) where the rows repeat: a sample of them has at most `share` distinct rows
    per row (None elsewhere: finding the distinct values of log lines costs and saves nothing)."""
    head = keys.head(sample)
    if head.n_unique() > share * max(head.height, 1):
        return None
    return distinct_rows(keys)


def distinct_rows(keys: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The distinct rows of keys, and for each row of keys the position of its distinct row.

    Rows are grouped by a 64-bit hash (a third of the time of grouping the text itself, measured
    on request lines), and the grouping is then checked against the text: log content is hostile,
    and two values an attacker made collide must not share one answer. Should the check fail, the
    rows are grouped by their text.
    """
    hashes = keys.hash_rows(seed=_HASH_SEED).to_frame("h").with_row_index("i")
    firsts = hashes.group_by("h").agg(pl.col("i").first()).with_row_index("code")
    codes = hashes.join(firsts.select("h", "code"), on="h", how="left", maintain_order="left").get_column("code")
    uniq = keys[firsts.get_column("i")]
    if uniq[codes].equals(keys, null_equal=True):
        return uniq, codes.to_numpy().astype(np.intp)  # numpy indexes with intp: converted once, not per use
    uniq = keys.unique()
    codes = keys.join(uniq.with_row_index("__code"), on=keys.columns, how="left", nulls_equal=True,
                      maintain_order="left").get_column("__code")
    return uniq, codes.to_numpy().astype(np.intp)


_HASH_SEED = 0x5EC


def regex_scan(column: pl.Series, patterns: list[str], gates: dict[str, frozenset[str]] | None = None,
               distinct: Distinct | None = None) -> dict[str, np.ndarray]:
    """pattern -> True on the values of column it matches (null: no match).

    Each distinct value is searched once where values repeat (`distinct`: computed if not given).
    A pattern with a gate (literals of which one occurs in all it matches; all gates found in one
    scan) is run only where one of them occurs; the others are run a few in one expression, and each
    on its own only where its group matched. The searches run in parallel threads.
    """
    if not patterns:
        return {}
    gates = gates or {}
    distinct = distinct or distinct_values(column, REGEX_DISTINCT_SHARE)
    values, codes = distinct.values, distinct.codes
    gated = [p for p in patterns if p in gates]
    where = _gated_values(values, {p: gates[p] for p in gated})
    ungated = [p for p in patterns if p not in gates]
    grouped = [p for p in ungated if _groupable(p)]
    tasks: list[list[str]] = [[p] for p in gated] + [[p] for p in ungated if not _groupable(p)]
    tasks += [grouped[i: i + REGEX_GROUP] for i in range(0, len(grouped), REGEX_GROUP)]

    def scan(group: list[str]) -> dict[str, np.ndarray]:
        rows = where.get(group[0], np.arange(values.len()))
        subset = values if rows.size == values.len() else values.gather(rows)
        combined = group[0] if len(group) == 1 else "|".join(f"(?:{p})" for p in group)
        hit = column_test(subset.to_frame("v"), pl.col("v").str.contains(combined).fill_null(False))
        out = {}
        for pattern in group:
            own = np.zeros(values.len(), dtype=bool)
            if len(group) == 1:
                own[rows] = hit
            else:
                within = np.flatnonzero(hit)
                own[rows[within]] = subset.gather(within).str.contains(pattern).fill_null(False).to_numpy()
            out[pattern] = own
        return out

    scans = run_all("expressions", [partial(scan, group) for group in tasks], [tuple(group) for group in tasks])
    found = {p: hit for part in scans for p, hit in part.items()}
    return found if codes is None else {p: hit[codes] for p, hit in found.items()}


def _spread(hit: np.ndarray, where: np.ndarray, size: int) -> np.ndarray:
    """hit, true at positions `where` of an array of `size`, as that array."""
    if where.size == size:
        return hit
    out = np.zeros(size, dtype=bool)
    out[where] = hit
    return out


def _gated_values(values: pl.Series, gates: dict[str, frozenset[str]]) -> dict[str, np.ndarray]:
    """pattern -> positions of the values holding one of its gate's literals (one scan for all)."""
    if not gates:
        return {}
    literals = sorted(frozenset().union(*gates.values()))
    hit = np.flatnonzero(_gate_hits(values, literals))
    pairs = _literals_found(values.gather(hit).to_frame("v"), pl.col("v"), literals, "ci")
    by_literal = {lit: hit[np.asarray(pos, dtype=np.int64)]
                  for lit, pos in pairs.group_by("text").agg("pos").iter_rows()}
    empty = np.zeros(0, dtype=np.int64)
    return {p: np.unique(np.concatenate([by_literal.get(lit, empty) for lit in gate] or [empty]))
            for p, gate in gates.items()}


def _literals_found(frame: pl.DataFrame, haystack: pl.Expr, literals: list[str], mode: Mode) -> pl.DataFrame:
    """(pos, text): each literal found in each row of frame, once; in mode ci the (lowercase ASCII)
    literal the text found stands for."""
    hits = frame.select(haystack.str.extract_many(literals, ascii_case_insensitive=mode == "ci", overlapping=True)
                        .alias("text")).with_row_index("pos").explode("text").drop_nulls("text")
    if mode == "ci" and hits.height:
        text = pl.col("text")
        hits = hits.with_columns(pl.when(text.str.contains(r"^[\x00-\x7f]*$"))
                                 .then(text.str.to_lowercase()).otherwise(text).alias("text"))
    return hits.unique()


def _gate_hits(values: pl.Series, literals: list[str]) -> np.ndarray:
    return column_test(values.to_frame("v"), _contains(pl.col("v"), literals, "ci"))


#: From this many rows on, a test is run by Polars' streaming engine, which splits the rows
#: between the CPUs (measured: a regex over 500k log lines in 0.27 s instead of 0.43 s on two).
STREAM_ROWS = 100_000


def column_test(frame: pl.DataFrame, test: pl.Expr) -> np.ndarray:
    """A boolean test over the rows of frame, as a numpy array."""
    if frame.height >= STREAM_ROWS:
        return frame.lazy().select(test).collect().to_series().to_numpy()
    return frame.select(test).to_series().to_numpy()


def _python_syntax(pattern: str) -> str:
    """A pattern as backend.ascii_classes wrote it, in Python's syntax again (for its parser)."""
    for python, rust in ASCII_CLASSES.items():
        pattern = pattern.replace(rust, python)
    return pattern.replace("(?-u:\\b)", "\\b").replace("(?-u:\\B)", "\\B")


@lru_cache(maxsize=4096)
def _groupable(pattern: str) -> bool:
    """Whether a regular expression can share one search with others without slowing it down."""
    try:
        parsed = sre_parse.parse(_python_syntax(pattern))
    except (re.error, RecursionError, OverflowError, ValueError):
        return False

    def small(items: Any) -> bool:
        for op, arg in items:
            if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
                if (arg[1] != sre.MAXREPEAT and arg[1] > MAX_GROUPED_REPEAT) or not small(arg[2]):
                    return False
            elif op is sre.SUBPATTERN:
                if not small(arg[-1]):
                    return False
            elif op is sre.BRANCH and not all(small(b) for b in arg[1]):
                return False
        return True

    try:
        return small(parsed)
    except RecursionError:
        return False


def _haystack(text: pl.Expr, mode: Mode) -> pl.Expr:
    return text.str.to_lowercase() if mode == "lower" else text


def _contains(haystack: pl.Expr, literals: list[str], mode: Mode) -> pl.Expr:
    """The haystack contains one of the literals (with ASCII case folding in mode ci), or in mode regex
    matches one of the regular expressions."""
    if mode == "regex":
        return pl.any_horizontal([haystack.str.contains(p) for p in literals]).fill_null(False)
    if mode == "ci" and len(literals) <= MAX_REGEX_LITERALS:
        # The text lowercased, then the literals (kept lowercase) looked for as written, a group of
        # at most 64 to one search: Rust's regex then finds them with its SIMD literal search
        # (Teddy), several times faster than a case-insensitive search, which has too many case
        # variants for it and runs its automaton over every byte (measured on a chunk's log lines:
        # 0.16 s against 0.24 s, lowercasing included). Lowercasing keeps every ASCII letter where
        # it was, so every ASCII-folded occurrence is found; what else it finds (a non-ASCII
        # character lowercasing to ASCII) only makes a candidate. The characters that fold to ASCII
        # are looked for as themselves, in the text as it is.
        words = [pl.escape_regex(lit.lower()) for lit in literals if lit not in FOLDS_TO_ASCII]
        chars = [lit for lit in literals if lit in FOLDS_TO_ASCII]
        lowered = haystack.str.to_lowercase()
        found = [lowered.str.contains("|".join(words[i: i + TEDDY_LITERALS]))
                 for i in range(0, len(words), TEDDY_LITERALS)]
        found += [haystack.str.contains(f"[{''.join(chars)}]")] if chars else []
        return pl.any_horizontal(found).fill_null(False) if found else pl.lit(False)
    return haystack.str.contains_any(literals, ascii_case_insensitive=mode == "ci").fill_null(False)


__all__ = ["FOLDS_TO_ASCII", "Plan", "Term", "Terms", "necessary_terms", "terms_suffice"]
