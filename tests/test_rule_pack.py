"""The shipped rule pack in rules/: every rule compiles, says why it matters, which ATT&CK technique and
which GB/T 22239-2019 clause it evidences, and proves what it finds with example log lines that pass.
Detection quality on public payload lists and benign traffic is checked so that tuning cannot regress.
"""

from __future__ import annotations

import random
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType

from benchmarks import bench_detect_quality as quality
from secaware.detect.examples import run_examples
from secaware.detect.rules import Compilation, CompiledRule, compile_rules

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
SINGLE_EVENT_DIRS = ("web", "linux", "network")
CORRELATIONS = RULES / "correlation"

#: GB/T 22239-2019 level-3 technical clauses (8.1.2 communication network, 8.1.3 area boundary,
#: 8.1.4 computing environment, 8.1.5 security management centre) a rule may cite.
MLPS_CLAUSES = {f"8.1.2.{i}" for i in range(1, 4)} | {f"8.1.3.{i}" for i in range(1, 7)} | {
    f"8.1.4.{i}" for i in range(1, 12)} | {f"8.1.5.{i}" for i in range(1, 5)}
LEVELS = {"informational", "low", "medium", "high", "critical"}

PACK: Compilation = compile_rules([RULES / d for d in SINGLE_EVENT_DIRS])
FULL: Compilation = compile_rules([RULES])


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _single_event_documents() -> list[Any]:
    params = []
    for d in SINGLE_EVENT_DIRS:
        for path in sorted((RULES / d).glob("*.yml")):
            for doc in _documents(path):
                params.append(pytest.param(path, doc, id=f"{d}/{path.stem}"))
    return params


def _correlation_documents() -> list[Any]:
    return [pytest.param(path, doc, id=f"{path.stem}:{doc.get('name') or doc.get('title')}")
            for path in sorted(CORRELATIONS.glob("*.yml")) for doc in _documents(path)]


def _rule_param(rule: CompiledRule) -> Any:
    return pytest.param(rule, id=f"{Path(rule.file or '?').stem}")


# -- the pack as a whole ------------------------------------------------------------------------


def test_single_event_rules_all_compile() -> None:
    assert PACK.failed == []
    files = {str(p) for d in SINGLE_EVENT_DIRS for p in (RULES / d).glob("*.yml")}
    assert {r.file for r in PACK.rules} == files, "every rule file yields a compiled rule"
    assert 50 <= len(PACK.rules) <= 80


def test_whole_pack_compiles_with_its_correlations() -> None:
    assert FULL.failed == []
    assert len(FULL.correlations) == len([d for p in CORRELATIONS.glob("*.yml") for d in _documents(p)
                                          if "correlation" in d])
    base = {i for c in FULL.correlations for i in c.base if i < len(FULL.rules)}
    assert all(not FULL.rules[i].output for i in base), "base rules do not alert on their own"
    assert all(r.output for i, r in enumerate(FULL.rules) if i not in base)
    blocks = {i - len(FULL.rules) for c in FULL.correlations for i in c.base if i >= len(FULL.rules)}
    assert [c.title for j, c in enumerate(FULL.correlations) if not c.output] == [
        FULL.correlations[j].title for j in sorted(blocks)]
    assert [c.level for c in FULL.correlations if not c.output] == ["informational"] * len(blocks)


def test_ids_titles_and_names_are_unique() -> None:
    docs = [d for p in sorted(RULES.rglob("*.yml")) for d in _documents(p)]
    ids = [d["id"] for d in docs]
    titles = [d["title"] for d in docs]
    names = [d["name"] for d in docs if "name" in d]
    assert len(ids) == len(set(ids))
    assert len(titles) == len(set(titles))
    assert len(names) == len(set(names))


def test_levels_are_spread_and_honest() -> None:
    levels = [r.level for r in PACK.rules]
    assert set(levels) <= LEVELS - {"informational"}
    assert levels.count("critical") <= 3, "critical is for high-confidence exploitation only"
    assert levels.count("high") < len(levels) * 0.7


# -- every single-event rule --------------------------------------------------------------------


def _check_metadata(doc: dict[str, Any], *, standalone: bool) -> None:
    assert uuid.UUID(doc["id"]).version == 4
    assert doc.get("author") == "secaware"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(doc.get("date")))
    assert doc.get("status") in {"experimental", "test", "stable"}
    assert len(doc.get("description", "").split()) >= 15, "the description says why the finding matters"
    assert doc.get("falsepositives"), "falsepositives name what else can look like this"
    assert doc.get("level") in (LEVELS if not standalone else LEVELS - {"informational"})
    tags = doc.get("tags", [])
    assert any(re.fullmatch(r"attack\.t\d{4}(?:\.\d{3})?", t) for t in tags), "an ATT&CK technique tag"
    assert any(re.fullmatch(r"attack\.[a-z-]+", t) and not t.startswith("attack.t") for t in tags), \
        "an ATT&CK tactic tag"
    clauses = [t.removeprefix("mlps.") for t in tags if t.startswith("mlps.")]
    assert clauses, "a graded-protection (GB/T 22239-2019) clause tag such as mlps.8.1.3.3"
    assert set(clauses) <= MLPS_CLAUSES, f"unknown clause in {clauses}"


@pytest.mark.parametrize(("path", "doc"), _single_event_documents())
def test_rule_metadata(path: Path, doc: dict[str, Any]) -> None:
    _check_metadata(doc, standalone=True)
    assert "correlation" not in doc
    assert doc["logsource"].get("category") in {"webserver", "firewall", None}
    if path.parent.name == "web":
        assert doc["logsource"] == {"category": "webserver"}
    elif path.parent.name == "network":
        assert doc["logsource"] == {"category": "firewall"}
    else:
        assert doc["logsource"].get("product") == "linux"


@pytest.mark.parametrize("rule", [_rule_param(r) for r in PACK.rules])
def test_rule_examples_pass(rule: CompiledRule) -> None:
    spec = rule.attributes.get("examples") or {}
    assert spec.get("match") and spec.get("nomatch"), "at least one match and one nomatch example"
    failures = [f"{r.expected}: {r.text}\n    {r.reason}" for r in run_examples(Compilation(rules=[rule]))
                if not r.passed]
    assert failures == [], "\n".join(failures)


# -- correlation rules --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "doc"), _correlation_documents())
def test_correlation_file_documents(path: Path, doc: dict[str, Any]) -> None:
    referenced = {r for d in _documents(path) if "correlation" in d for r in d["correlation"]["rules"]}
    building_block = doc.get("name") in referenced
    _check_metadata(doc, standalone=not building_block)
    if building_block:
        assert doc["level"] == "informational", "a building block does not alert on its own"
    examples = doc.get("examples") or {}
    assert examples.get("format") and examples.get("match") and examples.get("nomatch")
    if "correlation" in doc:
        corr = doc["correlation"]
        assert corr["type"] in {"event_count", "value_count", "temporal", "temporal_ordered"}
        assert corr["rules"] and corr["group-by"] and re.fullmatch(r"\d+[smhd]", corr["timespan"])
        if corr["type"] in {"event_count", "value_count"}:
            assert len(set(corr["condition"]) & {"gt", "gte", "lt", "lte", "eq"}) == 1
        if corr["type"] == "value_count":
            assert corr["condition"].get("field")
        for block in examples["match"] + examples["nomatch"]:
            assert len(block.strip().splitlines()) >= 2, "a correlation example is a block of several lines"
    else:
        assert doc.get("name"), "a base rule is referenced by its name"


@pytest.mark.parametrize("path", sorted(CORRELATIONS.glob("*.yml")), ids=lambda p: p.stem)
def test_correlations_resolve_their_rules(path: Path) -> None:
    collection = SigmaCollection.load_ruleset([str(path)], collect_errors=True)
    assert [(r.title, r.errors) for r in collection.rules if r.errors] == []
    correlations = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    assert correlations
    for corr in correlations:
        assert all(ref.rule is not None for ref in corr.rules)
        assert corr.group_by
        if corr.type == SigmaCorrelationType.VALUE_COUNT:
            assert corr.condition.fieldref


@pytest.mark.parametrize("path", sorted(CORRELATIONS.glob("*.yml")), ids=lambda p: p.stem)
def test_correlation_examples_pass(path: Path) -> None:
    """Base rules' lines and correlations' blocks, run through the engine's correlate()."""
    compiled = compile_rules([path])
    assert compiled.failed == [] and compiled.correlations
    results = run_examples(compiled)
    assert {r.title for r in results} >= {c.title for c in compiled.correlations}
    failures = [f"{r.title} {r.expected}: {r.text[:200]}\n    {r.reason}" for r in results if not r.passed]
    assert failures == [], "\n".join(failures)


# -- detection quality (the benchmark's construction, on samples) ---------------------------------


#: Recall on a sample of each class's attack-bearing payloads; the benchmark measures the full lists.
RECALL_FLOOR = {"sqli": 0.95, "xss": 0.96, "traversal": 0.97, "cmdi": 0.92}


@pytest.mark.parametrize("cls", sorted(RECALL_FLOOR))
def test_recall_on_public_payload_lists(cls: str, datasets: Path) -> None:
    payloads = [p for p in quality.load_payloads(cls, datasets) if quality.is_attack_bearing(p)]
    sample = random.Random(7).sample(payloads, min(300, len(payloads)))
    outcome = quality.run(quality.attack_lines(sample), PACK.rules)
    assert outcome.rejects == 0
    missed = [p for i, p in enumerate(sample) if i not in outcome.hit]
    assert len(outcome.hit) / len(sample) >= RECALL_FLOOR[cls], f"missed: {missed[:20]}"


@pytest.mark.parametrize("benign", ["elastic", "csic"])
def test_false_positives_on_benign_traffic(benign: str, datasets: Path) -> None:
    lines = quality.elastic_lines(datasets) if benign == "elastic" else quality.csic_lines(datasets)
    sample = random.Random(7).sample(lines, min(3000, len(lines)))
    outcome = quality.run(sample, PACK.rules)
    assert outcome.rejects <= len(sample) * 0.001
    alerted = [sample[i] for i in sorted(outcome.hit)]
    assert len(alerted) / len(sample) < quality.FP_TARGET, f"alerted: {alerted[:10]}"
