"""The sample generator: deterministic, within budget, and its labels tell the truth about the lines."""

from __future__ import annotations

import csv
import glob
import gzip
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
import yaml

from secaware.prefectures import BY_CODE
from secaware.samples import generate

LINE_SCENARIOS = {
    "sqli",
    "xss",
    "path_traversal",
    "cmd_injection",
    "webshell_upload",
    "webshell_use",
    "exploit_probe",
    "vuln_scanner",
    "authorized_scan",
    "ssh_bruteforce",
    "password_spraying",
    "port_scan",
    "host_sweep",
    "telnet_admin",
    "data_exfiltration",
    "offhours_login",
}
BEHAVIOUR_SCENARIOS = {
    "ssh_bruteforce",
    "password_spraying",
    "port_scan",
    "host_sweep",
    "data_exfiltration",
    "offhours_login",
}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("samples") / "sample_logs"
    generate(d)
    return d


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _text(root: Path, rel: str) -> str:
    data = (root / rel).read_bytes()
    if rel.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("gbk" if rel.endswith("sangfor.log") else "utf-8")


def _lines(root: Path, rel: str) -> list[str]:
    """Physical lines as a text editor numbers them (split on LF only; CR of CRLF dropped)."""
    return [line.rstrip("\r") for line in _text(root, rel).split("\n")[:-1]]


def _labels(root: Path) -> list[dict[str, str]]:
    with (root / "labels.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _inventory(root: Path) -> dict:
    return yaml.safe_load((root / "inventory.yaml").read_text(encoding="utf-8"))


def test_same_arguments_give_identical_bytes(out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again)
    assert _tree(out) == _tree(again)


def test_seed_changes_traffic_but_not_the_topology(out: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(other, seed=8)
    a, b = _tree(out), _tree(other)
    assert a["inventory.yaml"] == b["inventory.yaml"]
    assert a["620100-lanzhou/lz-portal/access.log"] != b["620100-lanzhou/lz-portal/access.log"]


def test_default_output_is_within_size_budget(out: Path) -> None:
    total = sum(len(v) for v in _tree(out).values())
    assert 3_000_000 <= total <= 8_000_000


def test_scale_grows_ordinary_traffic_only(tmp_path: Path) -> None:
    small = generate(tmp_path / "small", days=1)
    big = generate(tmp_path / "big", days=1, scale=2.0)
    assert big.total_bytes > 1.6 * small.total_bytes
    assert big.behaviours == small.behaviours


def _decode_request(line: str) -> str:
    """The request part of a web line (or the URL of an EVE record), with URL and log escaping undone."""
    if line.startswith("{"):
        rec = json.loads(line)
        text = rec.get("http", {}).get("url", "") + " " + rec.get("http", {}).get("http_user_agent", "")
    else:
        text = line
    for _ in range(3):
        text = unquote_plus(text)
    return text.replace("\\x5C", "\\").replace("\\x5c", "\\").replace("\\x22", '"').lower()


PAYLOADS = {
    "sqli": r"union.{0,12}select|or '?1'?='?1|sleep\(|waitfor delay|extractvalue|and \d+=\d+|and '\w+'='\w+"
    r"|order by \d+|id=\d+'|@@version",
    "xss": r"<script|onerror=|onload=|javascript:|<svg",
    "path_traversal": r"\.\.(/|\\)|\.%2e/|\.\.\.\.//",
    "cmd_injection": r";\s*(cat|curl)\b|\|\s*whoami|\$\(id\)|&&\s*uname|`wget",
    "exploit_probe": r"_memberaccess|invokefunction|jndi:|class\.module\.classloader|/\.env|\.git/config"
    r"|wp-login\.php|console\.portal|phpunit|actuator",
    "webshell_upload": r"controller\.jsp\?action=(uploadfile|config)",
    "webshell_use": r"/upload/file/\d+/\d+\.jsp",
}


def _check_label(row: dict[str, str], line: str) -> None:
    scenario, detail, rel = row["scenario"], row["detail"], row["file"]
    src = re.match(r"src=([0-9a-f.:]+);", detail).group(1)
    is_auth = rel.endswith(("auth.log", "secure"))
    carries_request = "eve.json" not in rel or json.loads(line)["event_type"] in ("alert", "http")
    if scenario in PAYLOADS and carries_request:
        assert src in line, (row, line)
        assert re.search(PAYLOADS[scenario], _decode_request(line)), (row, line)
    elif scenario in ("vuln_scanner", "authorized_scan"):
        assert src in line, (row, line)
        if "Nikto" in detail and "eve.json" not in rel:
            assert "Nikto/2.5.0" in line
    elif scenario == "data_exfiltration":
        assert "45.144.30.77" in line
        sent = re.search(r"SendBytes=(\d+)|\"bytes_toserver\":(\d+)", line)
        assert sent and int(next(g for g in sent.groups() if g)) >= 10_000_000, line
    elif scenario == "host_sweep":
        assert src in line and "系统动作:拒绝" in line and "目的端口:22" in line
    elif scenario == "port_scan":
        assert src in line
        assert re.search(r"Event\(1048\)=Deny|SESSION_IPV4_FLOW|\[UFW BLOCK\]|ET SCAN|\"syn_sent\"", line), (
            line
        )
    elif is_auth:
        sshd_or_pam = r"sshd\[\d+\]|sudo:|systemd-logind|in\.telnetd|login\[\d+\]"
        assert re.search(sshd_or_pam, line), (row, line)
        if scenario == "password_spraying":
            assert src in line or "check pass; user unknown" in line
            assert "Accepted" not in line
        if scenario == "offhours_login":
            assert re.match(r"2026-11-23T03:", line)
        if scenario == "telnet_admin":
            assert re.search(r"in\.telnetd|login\[", line)
    else:
        assert src in line, (row, line)
        if scenario == "telnet_admin":
            assert "目的端口:23" in line and "Telnet" in line
        if scenario in ("ssh_bruteforce", "password_spraying", "offhours_login"):
            assert re.search(
                r"目的端口:22|:22\(TCP\)|DestinationPort=22,|DstPort\(1008\)=22;|\"dest_port\":22", line
            )


def test_every_label_points_at_a_line_that_carries_the_attack(out: Path) -> None:
    rows = _labels(out)
    assert len(rows) > 1_000
    cache: dict[str, list[str]] = {}
    for row in rows:
        lines = cache.setdefault(row["file"], _lines(out, row["file"]))
        n = int(row["line_no"])
        assert 1 <= n <= len(lines), row
        _check_label(row, lines[n - 1])


def test_labels_cover_every_scenario(out: Path) -> None:
    assert {r["scenario"] for r in _labels(out)} == LINE_SCENARIOS
    with (out / "labels_behaviour.csv").open(encoding="utf-8", newline="") as f:
        behaviours = list(csv.DictReader(f))
    assert {b["scenario"] for b in behaviours} >= BEHAVIOUR_SCENARIOS
    for b in behaviours:
        start = datetime.fromisoformat(b["window_start"])
        end = datetime.fromisoformat(b["window_end"])
        assert b["window_start"].endswith("Z") and start <= end
        assert b["entity_type"] in ("ip", "user")


def test_scenarios_spread_over_prefectures_with_some_clean(out: Path) -> None:
    attacked = {r["file"].split("/")[0] for r in _labels(out) if r["scenario"] != "authorized_scan"}
    attacked.discard("province")
    assert len(attacked) >= 9
    assert {"620200-jiayuguan", "622900-linxia", "623000-gannan"}.isdisjoint(attacked)


def test_inventory_shape_and_globs(out: Path) -> None:
    inv = _inventory(out)
    systems = inv["systems"]
    assert len(systems) == 42
    assert len({s["id"] for s in systems}) == 42
    for s in systems:
        assert s["prefecture"] in BY_CODE
        assert s["level"] in (2, 3)
        assert isinstance(s["online_since"], type(datetime(2020, 1, 1).date()))
        assert s["management"] and s["hosts"]
        for pattern in s["logs"]:
            matches = [p for p in glob.glob(str(out / pattern), recursive=True) if Path(p).is_file()]
            assert matches, (s["id"], pattern)
    portals = [s for s in systems if s["id"].endswith("-portal")]
    assert len(portals) == 14 and all(s["level"] == 3 for s in portals)
    assert any("IIS" in s["web_server"] for s in systems)
    assert len({f["vendor"] for f in inv["firewalls"]}) >= 4
    for f in inv["firewalls"]:
        assert (out / f["logs"][0]).stat().st_size > 0


def test_authorized_scanner_is_in_inventory_and_attackers_are_not(out: Path) -> None:
    inv = _inventory(out)
    scanners = {ip for s in inv["systems"] for ip in s["scanners"]}
    rows = _labels(out)
    auth_srcs = {r["detail"].split(";")[0][4:] for r in rows if r["scenario"] == "authorized_scan"}
    assert auth_srcs and auth_srcs <= scanners
    lz = next(s for s in inv["systems"] if s["id"] == "lz-portal")
    assert auth_srcs <= set(lz["scanners"])
    attack_srcs = {r["detail"].split(";")[0][4:] for r in rows if r["scenario"] != "authorized_scan"}
    assert attack_srcs.isdisjoint(scanners)


def test_sangfor_logs_are_gbk(out: Path) -> None:
    files = sorted(out.glob("*/firewall/sangfor.log"))
    assert len(files) >= 3
    for path in files:
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        text = data.decode("gb18030")
        assert "日志类型:服务控制或应用控制" in text and "系统动作:拒绝" in text


def test_ordinary_web_traffic_has_a_daily_rhythm(out: Path) -> None:
    labelled = {(r["file"], int(r["line_no"])) for r in _labels(out)}
    hours: Counter[int] = Counter()
    for path in out.glob("*/*/access.log*"):
        rel = path.relative_to(out).as_posix()
        for n, line in enumerate(_lines(out, rel), start=1):
            m = re.search(r"\[\d\d/\w{3}/\d{4}:(\d\d):", line)
            if m and (rel, n) not in labelled:
                hours[int(m.group(1))] += 1
    busy = hours[9] + hours[10] + hours[11]
    quiet = hours[2] + hours[3] + hours[4]
    assert busy > 4 * quiet > 0


NGINX = re.compile(
    r'^\S+ - \S+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0800\] "[^"]*" \d{3} (\d+|-)'
    r'( "[^"]*" "[^"]*"( "[^"]*")?)?$'
)
RFC3339 = re.compile(r"^2026-11-2\dT\d\d:\d\d:\d\d\.\d{6}\+08:00 [\w-]+ [\w.-]+(\[\d+\])?: ")
RFC3164 = re.compile(r"^Nov [ 1-3]\d \d\d:\d\d:\d\d [\w-]+ [\w.-]+(\[\d+\])?: ")


def test_lines_follow_their_format(out: Path) -> None:
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if not path.is_file() or rel.endswith((".md", ".csv", ".yaml")):
            continue
        lines = _lines(out, rel)
        assert lines, rel
        name = path.name
        for line in lines:
            if name.startswith("access.log"):
                assert NGINX.match(line), (rel, line)
            elif name.startswith("u_ex"):
                assert line.startswith("#") or len(line.split(" ")) == 15, (rel, line)
            elif name in ("auth.log", "kern.log"):
                assert RFC3339.match(line), (rel, line)
            elif name == "secure":
                assert RFC3164.match(line), (rel, line)
            elif name == "eve.json":
                rec = json.loads(line)
                assert rec["timestamp"].endswith("+0800") and isinstance(rec["flow_id"], int)
                assert rec["event_type"] in ("alert", "http", "flow")
            elif name == "huawei-usg.log":
                assert (
                    "%%01SECLOG/6/SESSION_TEARDOWN(l):IPVer=4," in line
                    or "%%01POLICY/6/POLICYDENY(l):" in line
                )
            elif name == "h3c.log":
                assert re.match(
                    r"^(<190>|<6> )Nov \d\d \d\d:\d\d:\d\d 2026 \S+ %%10(session|FILTER)/6/", line
                )
            elif name == "hillstone.log":
                assert re.match(
                    r"^<190>Nov [ \d]\d \d\d:\d\d:\d\d \d+\(root\) \w+ Traffic@FLOW: SESSION: ", line
                )
            elif name == "sangfor.log":
                assert re.match(r"^<134>Nov [ \d]\d \d\d:\d\d:\d\d localhost fwlog: 日志类型:", line)
            else:
                pytest.fail(f"unexpected file {rel}")


def test_iis_is_utc_crlf_with_headers(out: Path) -> None:
    files = sorted(out.glob("*/*/W3SVC1/u_ex*.log"))
    assert len(files) == 3
    for path in files:
        data = path.read_bytes()
        assert data.startswith(b"#Software: Microsoft Internet Information Services 10.0\r\n")
        assert data.count(b"\r\n") == data.count(b"\n")
    # 00:00-08:00 Beijing on the first day is the previous UTC date.
    assert files[0].name == "u_ex261122.log"


def test_three_days_rotate_into_gzip(tmp_path: Path) -> None:
    generate(tmp_path / "s", days=3)
    gz = tmp_path / "s/620100-lanzhou/lz-portal/access.log.2.gz"
    raw = gz.read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"
    assert "[23/Nov/2026:" in gzip.decompress(raw).decode()
    assert "[25/Nov/2026:" in (tmp_path / "s/620100-lanzhou/lz-portal/access.log").read_text()


def test_refuses_to_overwrite_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_committed_sample_logs_are_current(out: Path) -> None:
    """The committed `sample_logs/` must be what the generator writes today, or docs and rules drift."""
    committed = Path(__file__).resolve().parent.parent / "sample_logs"
    if not (committed / "inventory.yaml").exists():
        pytest.skip("no committed sample_logs in this checkout")
    assert _tree(committed) == _tree(out)
