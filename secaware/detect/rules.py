"""Loading Sigma rules, mapping their field names onto the events table, compiling them.

Field names go through a pySigma processing pipeline (the Sigma taxonomy names recorded beside
each column in schema.py, e.g. `cs-uri-query` -> `url_query`, `c-ip` -> `src_ip`), not through
the backend. A rule that still names a field the events table does not have is reported with the
field, rather than compiled into a predicate that silently never matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaRule

from secaware.detect.backend import KEYWORD_COLUMN, PolarsBackend
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
    """The processing pipeline from Sigma field names to events columns."""
    return ProcessingPipeline(
        name="secaware events field mapping",
        priority=20,
        items=[ProcessingItem(identifier="secaware_field_mapping",
                              transformation=FieldMappingTransformation(field_mapping()))],
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


@dataclass
class Compilation:
    rules: list[CompiledRule] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file or rule, reason)


def compile_rules(paths: Iterable[str | Path]) -> Compilation:
    """Load every rule under paths, map and compile it; collect failures with their reasons.

    One broken rule never stops the others (pySigma's collect_errors): each failure names the
    file and why, so a rule author can fix it.
    """
    backend = PolarsBackend(processing_pipeline=events_pipeline())
    known = {c.name for c in EVENT_COLUMNS}
    result = Compilation()
    rules: list[SigmaRule] = []
    for path in rule_files(paths):
        try:
            rules.extend(SigmaCollection.load_ruleset([str(path)], collect_errors=True).rules)
        except (SigmaError, yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            result.failed.append((str(path), f"not a readable Sigma rule file: {exc}".replace("\n", " ")))
    for rule in rules:
        where = str(rule.source.path) if getattr(rule, "source", None) and rule.source.path else str(rule.title)
        if rule.errors:
            result.failed.append((where, "; ".join(str(e) for e in rule.errors)))
            continue
        if not isinstance(rule, SigmaRule):
            result.failed.append((where, "correlation rules are not compiled yet"))
            continue
        try:
            queries = backend.convert_rule(rule)
        except SigmaError as exc:
            result.failed.append((where, str(exc)))
            continue
        predicate = pl.any_horizontal(queries) if len(queries) > 1 else queries[0]
        unknown = sorted(set(predicate.meta.root_names()) - known)
        if unknown:
            result.failed.append((where, f"uses fields the events table does not have: {', '.join(unknown)}"))
            continue
        result.rules.append(CompiledRule(
            rule_id=str(rule.id) if rule.id else where,
            title=rule.title,
            level=rule.level.name.lower() if rule.level else None,
            tags=[str(t) for t in rule.tags],
            file=str(rule.source.path) if getattr(rule, "source", None) and rule.source.path else None,
            predicate=predicate,
            encoded=_spells_encoding(rule),
            attributes=dict(rule.custom_attributes or {}) | {"description": rule.description or "",
                                                             "falsepositives": list(rule.falsepositives or [])},
        ))
    return result


_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}|\+")


def _spells_encoding(rule: SigmaRule) -> bool:
    """Whether any value of the rule is written in encoded form (then decoding would hide it)."""
    def values(detection: Any) -> Iterable[Any]:
        for item in detection.detection_items:
            if hasattr(item, "detection_items"):
                yield from values(item)
            else:
                yield from item.value
    return any(_ENCODED.search(str(v)) for d in rule.detection.detections.values() for v in values(d))


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files named, and *.yml / *.yaml files found under directories named."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file()))
        else:
            files.append(p)
    return files


__all__ = ["KEYWORD_COLUMN", "Compilation", "CompiledRule", "compile_rules", "events_pipeline", "field_mapping"]
