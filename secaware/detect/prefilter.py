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
- `not a`, numbers, regular expressions, CIDR, comparisons, field references, null and exists
  tests: none (nothing that must occur).
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import SigmaCasedString, SigmaExpansion, SigmaNumber, SigmaString, SpecialChars

from secaware.detect.backend import KEYWORD_COLUMN, _literal_shape

#: Non-ASCII characters whose lowercase (U+0130) or simple case fold (U+017F, U+212A) is ASCII.
FOLDS_TO_ASCII = ("\u0130", "\u017f", "\u212a")

#: Shortest literal worth a prefilter: shorter ones occur in nearly every row.
MIN_LITERAL = 3

#: Columns whose few distinct values (GET, POST, HTTP/1.1) occur in most rows: never a useful term.
WEAK_COLUMNS = frozenset({"http_method", "http_version", "protocol", "source", "event_category", "outcome",
                          "action", "url_extension"})

Mode = Literal["ci", "lower", "exact"]


@dataclass(frozen=True, order=True)
class Term:
    """`text` occurs in `column`: with ASCII case folding (ci), in the lowercased column (lower), or as is."""

    column: str
    text: str
    mode: Mode


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


def _useful(terms: Terms) -> bool:
    return bool(terms) and all(t.column not in WEAK_COLUMNS and len(t.text) >= MIN_LITERAL for t in terms)


def _strength(terms: Terms) -> tuple[int, int]:
    """Prefer sets that narrow most: usable at all, then the longest weakest literal."""
    return (int(_useful(terms)), min(len(t.text) for t in terms))


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
        if cased:
            return frozenset({Term(column, text, "ci" if text.isascii() else "exact")})
        text = text.lower()
        return frozenset({Term(column, text, "ci" if text.isascii() else "lower")})
    # backend: an anchored regex; case-insensitive ((?is)) unless cased
    runs = _literal_runs(value.s)
    if cased:
        best = max(runs, key=len, default="")
        return frozenset({Term(column, best, "ci" if best.isascii() else "exact")}) if best else None
    ascii_runs = [r for r in runs if r.isascii()]
    best = max(ascii_runs, key=len, default="")
    return frozenset({Term(column, best.lower(), "ci")}) if best else None


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


@dataclass(frozen=True)
class Plan:
    """The literals to scan for, by column and mode, for a list of rules' terms."""

    ci: dict[str, list[str]]
    lower: dict[str, list[str]]
    exact: dict[str, list[str]]

    @classmethod
    def of(cls, term_sets: Iterable[Terms | None]) -> Plan:
        groups: dict[Mode, dict[str, set[str]]] = {"ci": {}, "lower": {}, "exact": {}}
        for terms in term_sets:
            for t in terms or ():
                groups[t.mode].setdefault(t.column, set()).add(t.text)
        ci = {c: sorted(lits) + list(FOLDS_TO_ASCII) for c, lits in groups["ci"].items()}
        return cls(ci=ci, lower={c: sorted(v) for c, v in groups["lower"].items()},
                   exact={c: sorted(v) for c, v in groups["exact"].items()})

    @property
    def columns(self) -> set[str]:
        return set(self.ci) | set(self.lower) | set(self.exact)

    def mask(self) -> pl.Expr:
        """True on rows where some literal occurs: the only rows the planned rules can match."""
        parts: list[pl.Expr] = []
        for column, lits in self.ci.items():
            parts.append(pl.col(column).cast(pl.String).str.contains_any(lits, ascii_case_insensitive=True))
        for column, lits in self.lower.items():
            parts.append(pl.col(column).cast(pl.String).str.to_lowercase().str.contains_any(lits))
        for column, lits in self.exact.items():
            parts.append(pl.col(column).cast(pl.String).str.contains_any(lits))
        if not parts:
            return pl.lit(False)
        return pl.any_horizontal(parts).fill_null(False)


def plan(term_sets: Sequence[Terms | None]) -> Plan:
    return Plan.of(term_sets)


__all__ = ["FOLDS_TO_ASCII", "Plan", "Term", "Terms", "necessary_terms", "plan"]
