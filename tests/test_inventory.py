"""The inventory file: hand-edited, so every mistake names the entry, the line and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from secaware.cli import cli
from secaware.errors import SecawareError
from secaware.inventory import attribute, load_inventory
from secaware.prefectures import PREFECTURES

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
systems:
  - id: lz-portal
    name: 兰州市人民政府门户网站
    prefecture: "620100"
    level: 3
    logs: ["collect/lz-portal/**"]
    hosts: ["10.1.1.10", "10.1.1.0/28", "lz-web-01", "www.lanzhou.gov.cn"]
    management: ["10.8.0.0/24"]
    scanners: ["10.9.9.9"]
    online_since: 2019-06-01
    owner: 兰州市大数据局
  - id: ts-oa
    name: 天水市协同办公系统
    prefecture: 天水市
    level: 2
    hosts: ["10.5.2.0/24", "oa.tianshui.gov.cn"]
"""


def test_the_bundled_inventory_matches_the_sample_logs() -> None:
    inv = load_inventory(ROOT / "sample_logs" / "inventory.yaml")
    assert inv.problems == []
    assert {s.prefecture for s in inv.systems} == {p.code for p in PREFECTURES}
    assert {s.level for s in inv.systems} == {2, 3}


def test_entries_keep_their_keys_and_names_resolve(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(GOOD)
    inv = load_inventory(path)
    assert inv.problems == []
    portal, oa = inv.systems
    assert (portal.prefecture, portal.level, portal.names) == ("620100", 3, ("lz-web-01", "www.lanzhou.gov.cn"))
    assert str(portal.scanners[0]) == "10.9.9.9/32" and portal.online_since.isoformat() == "2019-06-01"
    assert portal.extra == {"owner": "兰州市大数据局"}
    assert oa.prefecture == "620500"  # a Chinese name is accepted and stored as the code
    assert inv.log_patterns(portal) == [str(tmp_path / "collect/lz-portal/**")]


@pytest.mark.parametrize(("change", "line", "message"), [
    (("prefecture: 天水市", "prefecture: 西安市"), 12, "prefecture '西安市' is not one of Gansu's 14"),
    (("level: 2", "level: 4"), 12, "level 4 must be 2 or 3"),
    (('hosts: ["10.5.2.0/24", "oa.tianshui.gov.cn"]', "name2: x"), 12, "has neither 'logs' nor 'hosts'"),
    (("10.5.2.0/24", "10.1.1.12/30"), 12, "overlaps 10.1.1.0/28 of system 'lz-portal' (line 2)"),
    (("id: ts-oa", "id: lz-portal"), 12, "id is also used by the system at line 2"),
    (('management: ["10.8.0.0/24"]', 'management: ["10.8.0.0/33"]'), 2, "management entry '10.8.0.0/33'"),
    (("online_since: 2019-06-01", "online_since: soon"), 2, "online_since 'soon' must be a date"),
    # a date that does not exist was a bare ValueError from PyYAML that stopped the run
    (("online_since: 2019-06-01", "online_since: 2019-02-30"), 2, "online_since '2019-02-30' must be a date"),
])
def test_a_bad_entry_is_named_with_its_line_and_the_fix(tmp_path: Path, change: tuple[str, str], line: int,
                                                        message: str) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(GOOD.replace(*change))
    inv = load_inventory(path)
    assert len(inv.problems) == 1, inv.problems
    problem = inv.problems[0]
    assert (problem.file, problem.line) == (str(path), line) and message in problem.message
    assert str(problem).startswith(f"{path}:{line}: ")


def test_an_unreadable_inventory_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(SecawareError, match="cannot read the inventory"):
        load_inventory(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("systems: [\n")
    with pytest.raises(SecawareError, match=r"broken\.yaml: not valid YAML"):
        load_inventory(tmp_path / "broken.yaml")
    (tmp_path / "deep.yaml").write_text("systems: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(SecawareError, match=r"deep\.yaml: not valid YAML: nested too deeply"):
        load_inventory(tmp_path / "deep.yaml")


def test_events_are_attributed_by_file_then_name_then_address(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(GOOD)
    inv = load_inventory(path)
    events = pl.DataFrame({
        "file": [str(tmp_path / "collect/lz-portal/nginx/access.log"), "/var/log/fw.log", "/var/log/x.log",
                 "/var/log/y.log", "/var/log/z.log"],
        "host": ["10.5.2.9", None, "OA.tianshui.gov.cn", None, None],
        "url_domain": [None, "www.lanzhou.gov.cn:443", None, None, None],
        "dst_ip": [None, None, None, "10.1.1.5", "10.2.0.1"],
    })
    assert attribute(events, inv)["system"].to_list() == ["lz-portal", "lz-portal", "ts-oa", "lz-portal", None]


def test_cli_inventory_check(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(GOOD.replace("level: 2", "level: 5"))
    out = CliRunner().invoke(cli, ["inventory", "check", "--inventory", str(path)])
    assert out.exit_code == 1 and f"{path}:12: system 'ts-oa': level 5 must be 2 or 3" in out.output
    ok = CliRunner().invoke(cli, ["inventory", "check", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["prefectures"] == 14
