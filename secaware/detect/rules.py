"""Loading Sigma rules, mapping their field names onto the events table, compiling them.

Field names go through a pySigma processing pipeline (the Sigma taxonomy names recorded beside
each column in schema.py, e.g. `cs-uri-query` -> `url_query`, `c-ip` -> `src_ip`), not through
the backend. A rule that still names a field the events table does not have is reported with the
field, rather than compiled into a predicate that silently never matches.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaRule
from sigma.rule.base import SigmaRuleBase
from sigma.types import SigmaRegularExpression, SigmaString

from secaware import yamlfile
from secaware.detect.backend import IPV4_NUMBERS, KEYWORD_COLUMN, PolarsBackend
from secaware.detect.logsource import Scope, scope_of
from secaware.detect.prefilter import Terms, necessary_terms, terms_suffice
from secaware.schema import EVENT_COLUMNS


def field_mapping() -> dict[str, str]:
    """Sigma taxonomy name -> events column, from the names schema.py records for each column."""
    mapping: dict[str, str] = {}
    for column in EVENT_COLUMNS:
        for name in column.sigma:
            if name != column.name:
                mapping.setdefault(name, column.name)
    return mapping


def events_pipeline() -> ProcessingPipeline:
    """The processing pipeline from Sigma field names to events columns.

    The proxy taxonomy's `c-uri` and `c-uri-extension` name the columns the engine derives (the
    path with its query, the path's extension), so single-event rules reach them as correlations do.
    """
    return ProcessingPipeline(
        name="secaware events field mapping",
        priority=20,
        items=[ProcessingItem(identifier="secaware_field_mapping",
                              transformation=FieldMappingTransformation(field_mapping() | DERIVED_MAPPING))],
    )


@dataclass
class CompiledRule:
    """A rule ready to run: its predicate over the events table and what reports need of it."""

    rule_id: str
    title: str
    level: str | None
    tags: list[str]
    file: str | None
    predicate: pl.Expr
    #: The rule spells encoded text (`%2e`, `\\x3c`, `+`), so it is also matched against values as logged.
    encoded: bool = False
    #: Everything else the rule file says (description, falsepositives, examples...), as written.
    attributes: dict[str, Any] = field(default_factory=dict)
    #: False for a base rule of a correlation that does not `generate` its own alerts.
    output: bool = True
    name: str | None = None
    #: (column, literal) terms of which one occurs in every row the predicate matches (prefilter.py);
    #: None if the rule has none, and then it is evaluated on every row.
    terms: Terms | None = None
    #: A row where one of the terms occurs is a match (the rule is only `contains` values, or'd).
    terms_suffice: bool = False
    #: The events the rule's logsource covers (logsource.py); None: every event.
    scope: Scope | None = None

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The event columns the predicate reads, sorted (asked for every chunk by the engine)."""
        return tuple(sorted(set(self.predicate.meta.root_names())))


@dataclass
class CompiledCorrelation:
    """A Sigma correlation rule: base rules whose matches are counted per group over sliding windows.

    Field names (group-by, the counted field, aliases) are already mapped onto event columns.
    """

    rule_id: str
    title: str
    level: str | None
    tags: list[str]
    file: str | None
    type: str  # event_count, value_count, value_sum, value_avg, temporal, temporal_ordered
    #: Indexes into Compilation.rules in the rule's order; len(rules) + j is Compilation.correlations[j],
    #: whose alerts (at the time its condition was met) count as events of this correlation.
    base: list[int]
    group_by: list[str]
    timespan_s: int
    op: str  # gte, gt, lte, lt, eq, neq
    threshold: float
    counted: str | None = None  # the field value_* correlations count, sum or average
    #: alias -> {base rule index -> column}: a group-by name that differs between base rules
    aliases: dict[str, dict[int, str]] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    #: False when another correlation uses it and it does not `generate` alerts of its own.
    output: bool = True


@dataclass
class Compilation:
    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[CompiledCorrelation] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file or rule, reason)
    #: Files read, for reports: how many rules came from where.
    files: list[str] = field(default_factory=list)


#: Columns the engine derives for matching (engine.DERIVED), beside the events table's own.
DERIVED_NAMES = frozenset({"url", "url_extension"})
#: Sigma proxy-taxonomy names for the derived columns.
DERIVED_MAPPING = {"c-uri": "url", "c-uri-extension": "url_extension", "cs-uri-extension": "url_extension"}
#: Fields correlations may group by or count beside the event columns, and the column each is read
#: from: a source's network (addresses.networks: an IPv6 source counted by its /64).
NETWORK_FIELDS = {"src_net": "src_ip"}
SUPPORTED_CORRELATIONS = ("event_count", "value_count", "value_sum", "value_avg", "temporal", "temporal_ordered")


def _probe() -> pl.DataFrame:
    """One event with every text column empty: enough for Polars to compile a predicate's patterns."""
    columns = {c.name: pl.Series(c.name, ["" if c.dtype == pl.String() else None], dtype=c.dtype)
               for c in EVENT_COLUMNS}
    return pl.DataFrame(list(columns.values())).with_columns(
        *(pl.lit("", dtype=pl.String).alias(name) for name in sorted(DERIVED_NAMES)),
        *(pl.lit(None, dtype=pl.Int64).alias(name) for name in sorted(IPV4_NUMBERS.values())))


def _cannot_evaluate(predicate: pl.Expr, probe: pl.DataFrame) -> str | None:
    """Why the engine would fail on this predicate (a regular expression Rust's regex engine rejects:
    too deeply nested, too large once compiled), or None. Found now, so that one rule cannot stop a
    night's detection."""
    try:
        probe.select(predicate)
    except pl.exceptions.PolarsError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        said = [line for line in lines if line.startswith("error:")] or lines[:1]  # not the echoed pattern
        return f"the engine cannot evaluate it ({said[-1][:300]}): simplify the regular expression"
    return None


#: Lines RE2's C++ library prints itself when pySigma checks a regular expression it rejects.
_RE2_NOISE = ("re2.cc:", "absl::InitializeLog()")


@contextlib.contextmanager
def _without_re2_noise() -> Iterator[None]:
    """pySigma checks each regular expression with RE2, whose C++ library prints its own copy of
    every error on stderr ("re2.cc:242] Error parsing ...", after a warning that logging is not
    set up): `rules check` looked broken where one rule had a look-behind. The rule's failure
    already gives the reason, so those lines are dropped; anything else written meanwhile is
    passed on."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not any(mark in line for mark in _RE2_NOISE)]
            if kept:
                sys.stderr.write("".join(kept))


def _where(rule: SigmaRuleBase) -> str:
    source = getattr(rule, "source", None)
    return str(source.path) if source is not None and source.path else str(rule.title)


def compile_rules(paths: Iterable[str | Path]) -> Compilation:
    """Load every rule under paths, map and compile it; collect failures with their reasons.

    One broken rule never stops the others (pySigma's collect_errors): each failure names the
    file and why, so a rule author can fix it. Files are parsed one by one, then put in one
    collection so correlation rules can name base rules in other files.
    """
    time_columns = frozenset(c.name for c in EVENT_COLUMNS if isinstance(c.dtype, pl.Datetime))
    backend = PolarsBackend(processing_pipeline=events_pipeline(), ipv4_numbers=True,  # type: ignore[arg-type]
                            time_columns=time_columns)
    known = {c.name for c in EVENT_COLUMNS} | DERIVED_NAMES | set(IPV4_NUMBERS.values())
    probe = _probe()
    result = Compilation()
    loaded: list[SigmaRuleBase] = []
    with _without_re2_noise():  # once for all files: stderr is redirected, not reopened, per file
        for path in rule_files(paths):
            result.files.append(str(path))
            try:
                loaded.extend(SigmaCollection.load_ruleset([str(path)], collect_errors=True,
                                                          resolve_references=False).rules)
            except (SigmaError, yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
                result.failed.append((str(path), f"not a readable Sigma rule file: {exc}".replace("\n", " ")))
            except (ValueError, RecursionError) as exc:  # a date that does not exist, nesting: PyYAML's bare errors
                said = yamlfile.mistake(path.read_text(encoding="utf-8"), str(path)) or str(exc)
                result.failed.append((str(path), f"not a readable Sigma rule file: {said}"))
    good = [r for r in loaded if not r.errors]
    for rule in loaded:
        if rule.errors:
            result.failed.append((_where(rule), "; ".join(str(e) for e in rule.errors)))
    collection = SigmaCollection(good, resolve_references=False)
    correlations: list[SigmaCorrelationRule] = []
    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(collection)
                for alias in rule.aliases:
                    alias.resolve_rule_references(collection)
                correlations.append(rule)
            except SigmaError as exc:
                result.failed.append((_where(rule), f"correlation rule: {exc}"))
    index: dict[int, int] = {}  # id(SigmaRule) -> position in result.rules
    for rule in collection.rules:
        if not isinstance(rule, SigmaRule):
            continue
        try:
            queries = backend.convert_rule(rule) or rule.get_conversion_result()  # no output: kept on the rule
        except SigmaError as exc:
            result.failed.append((_where(rule), str(exc)))
            continue
        predicate = pl.any_horizontal(queries) if len(queries) > 1 else queries[0]
        unknown = sorted(set(predicate.meta.root_names()) - known)
        if unknown:
            said = f"uses fields the events table does not have: {', '.join(unknown)}"
            for name in (n for n in unknown if n in NETWORK_FIELDS):
                said += (f" ({name} is for correlations' group-by and counted field; a detection compares "
                         f"{NETWORK_FIELDS[name]}, with |cidr for a network)")
            result.failed.append((_where(rule), said))
            continue
        problem = _cannot_evaluate(predicate, probe)
        if problem:
            result.failed.append((_where(rule), problem))
            continue
        index[id(rule)] = len(result.rules)
        result.rules.append(CompiledRule(
            rule_id=str(rule.id) if rule.id else _where(rule),
            title=rule.title,
            level=rule.level.name.lower() if rule.level else None,
            tags=[str(t) for t in rule.tags],
            file=str(rule.source.path) if getattr(rule, "source", None) and rule.source.path else None,
            predicate=predicate,
            encoded=_spells_encoding(rule),
            terms=necessary_terms(rule),
            terms_suffice=terms_suffice(rule),
            scope=scope_of(rule.logsource),
            attributes=dict(rule.custom_attributes or {}) | {"description": rule.description or "",
                                                             "falsepositives": list(rule.falsepositives or [])},
            output=bool(getattr(rule, "_output", True)),
            name=rule.name,
        ))
    # correlations after the correlations they refer to; one refers to another by the index
    # len(rules) + its position in result.correlations
    pending, failed_ids = list(correlations), set()
    while pending:
        ready = [c for c in pending if not any(
            isinstance(r.rule, SigmaCorrelationRule) and id(r.rule) not in index and id(r.rule) not in failed_ids
            for r in c.referenced_rules)]
        if not ready:
            result.failed += [(_where(c), "correlation rules refer to each other in a cycle") for c in pending]
            break
        for corr in ready:
            pending.remove(corr)
            try:
                compiled = _compile_correlation(corr, index, known | set(NETWORK_FIELDS))
            except SigmaError as exc:
                failed_ids.add(id(corr))
                result.failed.append((_where(corr), str(exc)))
                continue
            index[id(corr)] = len(result.rules) + len(result.correlations)
            result.correlations.append(compiled)
    return result


def _column(name: str, known: set[str]) -> str:
    mapping = field_mapping() | DERIVED_MAPPING
    column = name if name in known else mapping.get(name, name)
    if column not in known:
        raise SigmaError(f"correlation uses a field the events table does not have: {name}")
    return column


def _compile_correlation(corr: SigmaCorrelationRule, index: dict[int, int], known: set[str]) -> CompiledCorrelation:
    kind = corr.type.name.lower()
    if kind not in SUPPORTED_CORRELATIONS:
        raise SigmaError(f"correlation type {kind} is not supported (supported: {', '.join(SUPPORTED_CORRELATIONS)})")
    base: list[int] = []
    for ref in corr.referenced_rules:
        target = ref.rule
        if id(target) not in index:
            raise SigmaError(f"base rule {ref.reference} did not compile (see its own error)")
        base.append(index[id(target)])
    if not base:
        raise SigmaError("correlation rule names no base rules")
    condition = corr.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise SigmaError("extended correlation conditions are not supported")
    aliases: dict[str, dict[int, str]] = {}
    for alias in corr.aliases:
        aliases[alias.alias] = {index[id(ref.rule)]: _column(f, known) for ref, f in alias.mapping.items()
                                if id(ref.rule) in index}
    group_by = [g if g in aliases else _column(g, known) for g in corr.group_by or []]
    counted = condition.fieldref
    if isinstance(counted, list):
        if len(counted) != 1:
            raise SigmaError("a correlation condition on several fields is not supported")
        counted = counted[0]
    if kind.startswith("value_") and not counted:
        raise SigmaError(f"{kind} correlation needs a condition field")
    return CompiledCorrelation(
        rule_id=str(corr.id) if corr.id else _where(corr),
        title=corr.title,
        level=corr.level.name.lower() if corr.level else None,
        tags=[str(t) for t in corr.tags],
        file=str(corr.source.path) if corr.source is not None and corr.source.path else None,
        type=kind,
        base=base,
        group_by=group_by,
        timespan_s=int(corr.timespan.seconds),
        op=condition.op.name.lower(),
        threshold=float(condition.count),
        counted=_column(counted, known) if counted and kind.startswith("value_") else None,
        aliases=aliases,
        output=bool(getattr(corr, "_output", True)),
        attributes={k: v for k, v in (corr.custom_attributes or {}).items() if k != "correlation"} | {
            "description": corr.description or "",
                                                         "falsepositives": list(corr.falsepositives or [])},
    )


_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}|\+")
#: In a regular expression's source: a percent sign, an escaped backslash before x (`\\x3c` as
#: logged by nginx), an entity, `\x25` (a percent sign by its code), an escaped plus.
_ENCODED_REGEX = re.compile(r"%|\\\\x|&#|\\x25|\\\+")


def _spells_encoding(rule: SigmaRule) -> bool:
    """Whether any value of the rule is written in encoded form (then decoding would hide it)."""
    def values(detection: Any) -> Iterable[Any]:
        for item in detection.detection_items:
            if hasattr(item, "detection_items"):
                yield from values(item)
            else:
                yield from item.value
    # A regular expression that spells an encoding (`%c0%ae`, `\\x2e`, `&#`, an escaped `+`) runs on
    # both forms: where decoding mangles a payload (overlong UTF-8) the logged text is what still
    # shows the attack. One that spells none finds in the decoded text what it would in the logged.
    def encoded(value: Any) -> bool:
        if isinstance(value, SigmaRegularExpression):
            regexp = value.regexp.original if hasattr(value.regexp, "original") else str(value.regexp)
            return bool(_ENCODED_REGEX.search(regexp))
        return isinstance(value, SigmaString) and bool(_ENCODED.search(str(value)))

    return any(encoded(v) for d in rule.detection.detections.values() for v in values(d))


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files named, and *.yml / *.yaml files found under directories named."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file()))
        else:
            files.append(p)
    return files


__all__ = ["KEYWORD_COLUMN", "Compilation", "CompiledCorrelation", "CompiledRule", "compile_rules", "events_pipeline",
           "field_mapping"]
