"""SigmaHQ conformance: every public webserver, Linux and firewall rule converts and runs, or is listed with why.

The rules are read in place from ../shared/sigmahq (a pinned subset of the SigmaHQ repository, for
compatibility tests only). "Runs" means compiled and matched, without error, over real events of
its kind: the Elastic Apache access logs for webserver rules, loghub's /var/log/messages for Linux
rules and real iptables logs for firewall rules. Run with -s to see the table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
import yaml

from secaware.detect.engine import match
from secaware.detect.rules import compile_rules
from secaware.ingest.pipeline import ingest
from tests.conftest import SHARED, read_table

SIGMAHQ = SHARED / "sigmahq"

pytestmark = pytest.mark.write_disk  # the events are ingested into temporary stores

#: Rules that do not run, by file name, with the reason compile_rules gives. Our events table has
#: no request Content-Type, and firewalls here say allow/deny in `action`, not in a `blocked` flag.
NOT_RUN = {
    "web_lnx_exploit_cve_2025_31324_sap_netviewer_webshell_uploaded.yml":
        "uses fields the events table does not have: cs-content-type",
    "net_firewall_cleartext_protocols.yml": "uses fields the events table does not have: blocked",
}

#: Event files each group of rules is run over.
EVENT_FILES = {
    "webserver": ("elastic_apache_logs/apache_logs_17-18may",),
    "linux": ("loghub/Linux/Linux_2k.log",),
    "firewall": ("iptables_samples/dunneja_py-fw-log/iptables.log",),
}


def rule_group(path: Path) -> str | None:
    """webserver, linux (product linux, any service or category), firewall, or None for other rules."""
    try:
        logsource = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("logsource") or {}
    except yaml.YAMLError:
        return None
    if logsource.get("category") == "webserver":
        return "webserver"
    if logsource.get("product") == "linux":
        return "linux"
    if logsource.get("category") == "firewall":
        return "firewall"
    return None


@dataclass
class GroupResult:
    files: list[Path] = field(default_factory=list)
    ran: dict[str, int] = field(default_factory=dict)  # file name -> events matched
    failed: dict[str, str] = field(default_factory=dict)  # file name -> reason


@pytest.fixture(scope="module")
def conformance(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, GroupResult]:
    groups: dict[str, GroupResult] = {g: GroupResult() for g in EVENT_FILES}
    for path in sorted(SIGMAHQ.rglob("*.yml")):
        if (group := rule_group(path)) is not None:
            groups[group].files.append(path)
    for group, result in groups.items():
        store = tmp_path_factory.mktemp(group) / "store"
        ingest([datasets / f for f in EVENT_FILES[group]], store, settle_seconds=0)
        events = read_table(store, "events")
        assert events.height > 1000
        compiled = compile_rules(result.files)
        for where, reason in compiled.failed:
            result.failed[Path(where).name] = reason
        for rule in compiled.rules:
            name = Path(rule.file or rule.rule_id).name
            try:
                result.ran[name] = match(events, [rule]).height
            except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
                result.failed[name] = f"fails at run time: {exc}".replace("\n", " ")
    return groups


def test_every_rule_runs_or_is_listed_with_its_reason(conformance: dict[str, GroupResult]) -> None:
    print()
    for group, result in conformance.items():
        print(f"{group}: {len(result.files)} rules, {len(result.ran)} run "
              f"({sum(1 for n in result.ran.values() if n)} matched some event), {len(result.failed)} listed")
        for reason, count in Counter(r.split(":")[0] for r in result.failed.values()).most_common():
            print(f"  {count} x {reason}")
        for name, reason in sorted(result.failed.items()):
            print(f"    {name}: {reason}")
        assert len(result.ran) + len(result.failed) == len(result.files)
    failed = {name: reason for r in conformance.values() for name, reason in r.failed.items()}
    assert failed == NOT_RUN


def test_the_public_rule_groups_are_all_there(conformance: dict[str, GroupResult]) -> None:
    counts = {group: len(r.files) for group, r in conformance.items()}
    assert counts["webserver"] >= 80 and counts["linux"] >= 20 and counts["firewall"] >= 1


def test_webserver_rules_run(conformance: dict[str, GroupResult]) -> None:
    web = conformance["webserver"]
    assert len(web.ran) / len(web.files) >= 0.95
