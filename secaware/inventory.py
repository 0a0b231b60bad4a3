"""The inventory: which systems the province runs, where, at which protection level, on which hosts.

Users edit it by hand, so its keys are an interface (id, name, prefecture, level, logs, hosts,
management, scanners, online_since; anything else is kept as it is), and every mistake is
reported with the file, the line and what to write instead. Log globs are relative to the
inventory's own folder unless absolute.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from secaware import prefectures, yamlfile
from secaware.errors import SecawareError
from secaware.resources import bundled

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LEVELS = (2, 3)
_KNOWN = {"id", "name", "prefecture", "level", "logs", "hosts", "management", "scanners", "online_since"}
_LINE = "__line__"


@dataclass(frozen=True)
class System:
    id: str
    name: str
    prefecture: str
    level: int
    logs: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()  # addresses and ranges from hosts
    names: tuple[str, ...] = ()  # host and domain names from hosts, lower case
    management: tuple[Network, ...] = ()
    scanners: tuple[Network, ...] = ()
    online_since: dt.date | None = None
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Problem:
    file: str
    line: int
    entry: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.entry}: {self.message}"


@dataclass
class Inventory:
    path: Path
    systems: list[System]
    problems: list[Problem]
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        return self.path.parent

    def log_patterns(self, system: System) -> list[str]:
        """The system's log globs as absolute patterns."""
        return [g if os.path.isabs(g) else str(self.base / g) for g in system.logs]


class _LineLoader(yamlfile.Loader):
    """Records the line of every mapping so errors can point at the entry."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def default_path() -> Path:
    """inventory.yaml in the working directory, else the bundled one that matches the sample logs."""
    here = Path("inventory.yaml")
    return here if here.exists() else bundled("sample_logs") / "inventory.yaml"


def load_inventory(path: str | Path | None = None) -> Inventory:
    """Read and validate an inventory; unreadable files raise, entry mistakes become problems.

    An entry with a problem that makes it unusable (no id, unknown prefecture, bad level) is left
    out of `systems`; the others are kept so the run can go on for them.
    """
    path = Path(path) if path is not None else default_path()
    try:
        data = yamlfile.load(path.read_text(encoding="utf-8"), _LineLoader, str(path))
    except OSError as exc:
        raise SecawareError(f"{path}: cannot read the inventory: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise SecawareError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict) or not isinstance(data.get("systems"), list):
        raise SecawareError(f"{path}: expected a mapping with a list of systems under 'systems:'")
    inv = Inventory(path=path.absolute(), systems=[], problems=[], raw=data)
    seen: dict[str, int] = {}
    for i, entry in enumerate(data["systems"], start=1):
        system = _system(entry, i, inv, seen)
        if system is not None:
            inv.systems.append(system)
    _overlaps(inv)
    return inv


def _system(entry: Any, i: int, inv: Inventory, seen: dict[str, int]) -> System | None:
    file = str(inv.path)
    if not isinstance(entry, dict):
        inv.problems.append(Problem(file, 0, f"systems entry {i}", "must be a mapping with id, name, prefecture, "
                                                                     "level, logs and hosts"))
        return None
    line = int(entry.get(_LINE, 0))
    sid = str(entry.get("id") or "").strip()
    who = f"system {sid!r}" if sid else f"systems entry {i}"

    def problem(message: str) -> None:
        inv.problems.append(Problem(file, line, who, message))

    usable = True
    if not sid:
        problem("needs 'id:' (a short unique name such as lz-portal)")
        usable = False
    elif sid in seen:
        problem(f"id is also used by the system at line {seen[sid]}; ids must be unique")
        usable = False
    else:
        seen[sid] = line
    code = prefectures.resolve(entry.get("prefecture", "")) if entry.get("prefecture") is not None else None
    if code is None:
        problem(f"prefecture {entry.get('prefecture')!r} is not one of Gansu's 14 (write a GB/T 2260 code such as "
                f"\"620100\" or a name such as 兰州市)")
        usable = False
    level = entry.get("level")
    if level not in LEVELS:
        problem(f"level {level!r} must be 2 or 3 (the graded-protection level of the system)")
        usable = False
    logs = entry.get("logs") or []
    hosts = entry.get("hosts") or []
    if not isinstance(logs, list) or not all(isinstance(g, str) for g in logs):
        problem("'logs' must be a list of path globs such as [\"collect/lz-portal/**\"]")
        logs = []
    if not isinstance(hosts, list):
        problem("'hosts' must be a list of addresses, ranges and host names")
        hosts = []
    if not logs and not hosts:
        problem("has neither 'logs' nor 'hosts': nothing can be attributed to it; add the log folder glob or its "
                "addresses")
    networks, names = [], []
    for h in hosts:
        text = str(h).strip()
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            if re.fullmatch(r"[A-Za-z0-9_.-]+", text) and not re.fullmatch(r"[\d.]+(/\d+)?", text):
                names.append(text.lower())
            else:
                problem(f"host {text!r} is neither an address, a CIDR range nor a host name")
    nets = {}
    for key in ("management", "scanners"):
        nets[key] = []
        for value in entry.get(key) or []:
            try:
                nets[key].append(ipaddress.ip_network(str(value).strip(), strict=False))
            except ValueError:
                problem(f"{key} entry {value!r} is not an address or CIDR range (e.g. 10.8.0.0/24)")
    since = entry.get("online_since")
    if since is not None and not isinstance(since, dt.date):
        problem(f"online_since {since!r} must be a date like 2019-06-01")
        since = None
    if not usable:
        return None
    return System(
        id=sid, name=str(entry.get("name") or sid), prefecture=code or "", level=int(level), logs=tuple(logs),
        networks=tuple(networks), names=tuple(names), management=tuple(nets["management"]),
        scanners=tuple(nets["scanners"]), online_since=since, line=line,
        extra={k: v for k, v in entry.items() if k not in _KNOWN and k != _LINE},
    )


def _overlaps(inv: Inventory) -> None:
    """Two systems claiming the same addresses make attribution ambiguous: name both."""
    owned = [(s, n) for s in inv.systems for n in s.networks]
    for i, (a, na) in enumerate(owned):
        for b, nb in owned[i + 1:]:
            if a.id != b.id and na.version == nb.version and na.overlaps(nb):
                inv.problems.append(Problem(
                    str(inv.path), b.line, f"system {b.id!r}",
                    f"hosts range {nb} overlaps {na} of system {a.id!r} (line {a.line}); each address must belong "
                    f"to one system"))


def glob_regex(pattern: str) -> str:
    """A path glob as an anchored regex: `**` any folders, `*` and `?` within one path component."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # any number of folders, also none
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "^" + "".join(out) + "$"


def _ipv4_int(column: str) -> Any:
    import polars as pl

    from secaware.addresses import ipv4_number

    return ipv4_number(pl.col(column))


def attribute(frame: Any, inv: Inventory) -> Any:
    """The frame (events, alerts: file, host, url_domain, dst_ip) with the `system` it belongs to, or null.

    Log file globs decide first (the collector folder is the most reliable statement of origin),
    then host and domain names (host, url_domain), then IPv4 addresses (dst_ip, then host).
    """
    import polars as pl

    lf = frame.lazy()
    have = lf.collect_schema()
    for col in ("file", "host", "url_domain", "dst_ip"):
        if col not in have:
            lf = lf.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    lf = lf.with_columns(_ipv4_int("dst_ip").alias("__dst"), _ipv4_int("host").alias("__host"))
    expr = pl.lit(None, dtype=pl.String)
    # each `when` wraps the ones built before it, so build from the weakest evidence to the strongest
    for system in reversed(inv.systems):
        for net in reversed(system.networks):
            if net.version != 4:
                continue
            lo, hi = int(net.network_address), int(net.broadcast_address)
            expr = pl.when(pl.col("__dst").is_between(lo, hi).fill_null(False)
                           | pl.col("__host").is_between(lo, hi).fill_null(False)).then(pl.lit(system.id)) \
                .otherwise(expr)
    for system in reversed(inv.systems):
        if system.names:
            names = list(system.names)
            expr = pl.when(pl.col("host").str.to_lowercase().is_in(names).fill_null(False)
                           | pl.col("url_domain").str.to_lowercase().str.replace(r":\d+$", "")
                           .is_in(names).fill_null(False)).then(pl.lit(system.id)).otherwise(expr)
    for system in reversed(inv.systems):
        patterns = inv.log_patterns(system)
        if patterns:
            regex = "|".join(f"(?:{glob_regex(p)})" for p in patterns)
            expr = pl.when(pl.col("file").str.contains(regex).fill_null(False)).then(pl.lit(system.id)) \
                .otherwise(expr)
    out = lf.with_columns(expr.alias("system")).drop("__dst", "__host")
    return out.collect() if isinstance(frame, pl.DataFrame) else out
