"""The nightly configuration (TOML): where the store, inventory, rules, models and reports are, and
which collector directories to read with their prefecture and time zone.

```toml
store = "/var/lib/secaware/store"
inventory = "/etc/secaware/inventory.yaml"   # optional
rules = ["/etc/secaware/rules"]              # optional, default: the shipped pack
models = "/var/lib/secaware/models"          # optional
allowlist = "/etc/secaware/allowlist.yaml"   # optional

[report]
dir = "/srv/secaware/reports"
lang = "zh"                                  # zh or en

[incidents]
gap = "4h"

[[collectors]]
path = "/data/collect/620100"
prefecture = "620100"                        # code or name
tz = "Asia/Shanghai"                         # optional
format = "combined"                          # optional: skip sniffing
```

Relative paths are relative to the file. Every mistake is reported with the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from secaware import prefectures
from secaware.errors import SecawareError
from secaware.ingest.formats import FORMATS, resolve

DEFAULT_TZ = "Asia/Shanghai"
_TOP = {"store", "inventory", "rules", "models", "allowlist", "report", "incidents", "collectors", "settle"}


def parse_duration(value: str) -> dt.timedelta | None:
    """'30m', '2h', '1d', '45s' as a timedelta; None when it is not one."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = str(value).strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        return None
    return dt.timedelta(seconds=int(text[:-1]) * units[text[-1]])


@dataclass
class Collector:
    path: Path
    prefecture: str | None = None
    tz: str = DEFAULT_TZ
    format: str | None = None


@dataclass
class Config:
    path: Path | None = None
    store: Path | None = None
    inventory: Path | None = None
    rules: list[Path] = field(default_factory=list)
    models: Path | None = None
    allowlist: Path | None = None
    report_dir: Path | None = None
    lang: str = "zh"
    gap: str = "4h"
    settle: float = 60.0
    collectors: list[Collector] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_config(path: str | Path) -> Config:
    """Read a config file; problems are collected (all of them at once) rather than raised one by one."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SecawareError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SecawareError(f"{path}: not valid TOML: {exc}") from exc
    base = path.parent
    cfg = Config(path=path.absolute())

    def where(key: str) -> str:
        return f"{path}: {key}"

    def as_path(value: Any, key: str) -> Path | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            cfg.problems.append(f"{where(key)}: must be a path in quotes")
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)

    for key in sorted(set(data) - _TOP):
        cfg.problems.append(f"{where(key)}: unknown setting; known: {', '.join(sorted(_TOP))}")
    cfg.store = as_path(data.get("store"), "store")
    if cfg.store is None and "store" not in data:
        cfg.problems.append(f"{where('store')}: missing; say where the store lives, e.g. store = \"/var/lib/"
                            f"secaware/store\"")
    cfg.inventory = as_path(data.get("inventory"), "inventory")
    if cfg.inventory is not None and not cfg.inventory.is_file():
        cfg.problems.append(f"{where('inventory')}: {cfg.inventory} does not exist")
    rules = data.get("rules", [])
    rules = [rules] if isinstance(rules, str) else rules
    if not isinstance(rules, list):
        cfg.problems.append(f"{where('rules')}: must be a list of rule folders or files")
        rules = []
    for i, r in enumerate(rules):
        p = as_path(r, f"rules[{i}]")
        if p is not None and not p.exists():
            cfg.problems.append(f"{where(f'rules[{i}]')}: {p} does not exist")
        elif p is not None:
            cfg.rules.append(p)
    cfg.models = as_path(data.get("models"), "models")
    cfg.allowlist = as_path(data.get("allowlist"), "allowlist")
    if cfg.allowlist is not None and not cfg.allowlist.is_file():
        cfg.problems.append(f"{where('allowlist')}: {cfg.allowlist} does not exist")
    report = data.get("report", {})
    if not isinstance(report, dict):
        cfg.problems.append(f"{where('report')}: must be a table: [report] dir = \"...\" lang = \"zh\"")
        report = {}
    cfg.report_dir = as_path(report.get("dir"), "report.dir")
    cfg.lang = str(report.get("lang", "zh"))
    if cfg.lang not in ("zh", "en"):
        cfg.problems.append(f"{where('report.lang')}: {cfg.lang!r} must be \"zh\" or \"en\"")
    gap = data.get("incidents", {}).get("gap", "4h") if isinstance(data.get("incidents"), dict) else "4h"
    cfg.gap = str(gap)
    if parse_duration(cfg.gap) is None:
        cfg.problems.append(f"{where('incidents.gap')}: {cfg.gap!r} is not a duration like 30m, 2h or 1d")
    settle = data.get("settle", 60)
    if not isinstance(settle, int | float) or settle < 0:
        cfg.problems.append(f"{where('settle')}: must be seconds (a number >= 0)")
    else:
        cfg.settle = float(settle)
    collectors = data.get("collectors", [])
    if not isinstance(collectors, list) or not collectors:
        cfg.problems.append(f"{where('collectors')}: add at least one [[collectors]] table with a path")
        collectors = []
    for i, c in enumerate(collectors):
        key = f"collectors[{i}]"
        if not isinstance(c, dict) or "path" not in c:
            cfg.problems.append(f"{where(key)}: needs path = \"/data/collect/...\"")
            continue
        cpath = as_path(c["path"], f"{key}.path")
        if cpath is not None and not cpath.exists():
            cfg.problems.append(f"{where(key + '.path')}: {cpath} does not exist")
        pref = c.get("prefecture")
        code = prefectures.resolve(pref) if pref is not None else None
        if pref is not None and code is None:
            cfg.problems.append(f"{where(key + '.prefecture')}: {pref!r} is not one of Gansu's 14 prefectures "
                                f"(a code such as \"620100\" or a name such as 兰州市)")
        tz = str(c.get("tz", DEFAULT_TZ))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            cfg.problems.append(f"{where(key + '.tz')}: {tz!r} is not a time zone (e.g. Asia/Shanghai)")
        fmt = c.get("format")
        if fmt is not None and resolve(str(fmt)) is None:
            cfg.problems.append(f"{where(key + '.format')}: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        unknown = set(c) - {"path", "prefecture", "tz", "format"}
        if unknown:
            cfg.problems.append(f"{where(key)}: unknown key(s) {', '.join(sorted(unknown))}")
        if cpath is not None:
            cfg.collectors.append(Collector(cpath, code, tz, str(fmt) if fmt else None))
    return cfg
