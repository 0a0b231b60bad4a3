"""Authorized scanners and other allowlisted sources, by address, without editing any rule.

A provincial vulnerability scanner fires every web rule every week. Its alerts are kept (they are
the evidence that the scan graded protection asks for took place) but marked `suppressed`, so they
never open an incident. The file is edited by hand, so every mistake names the entry and the fix:

```yaml
scanners:
  - address: 10.9.9.9            # an address or a CIDR range
    name: 省级漏洞扫描器 (RSAS)
    until: 2027-06-30            # optional: the authorization ends
    rules: [attack.t1190]        # optional: only alerts of these rule ids or tags
  - 10.9.8.0/28                  # a bare address or range is allowed too
```
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from secaware import yamlfile
from secaware.addresses import in_network
from secaware.errors import SecawareError


@dataclass(frozen=True)
class AllowEntry:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    name: str
    until: dt.date | None = None
    rules: tuple[str, ...] = field(default_factory=tuple)  # rule ids or tags; empty: all rules


def parse_address(text: str, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise SecawareError(f"{where}: {text!r} is not an IP address or CIDR range (e.g. 10.9.9.9 or "
                            f"10.9.9.0/28)") from exc


def load_allowlist(path: str | Path) -> list[AllowEntry]:
    """Entries of an allowlist file; any mistake is an error naming the file, the entry and the fix."""
    path = Path(path)
    try:
        data = yamlfile.load(path.read_text(encoding="utf-8"), name=str(path))
    except OSError as exc:
        raise SecawareError(f"{path}: cannot read the allowlist: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise SecawareError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from exc
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("scanners", []), list):
        raise SecawareError(f"{path}: expected a mapping with a list under 'scanners:'")
    entries = []
    for i, item in enumerate(data.get("scanners") or [], start=1):
        where = f"{path}: scanners entry {i}"
        if isinstance(item, str | int):
            entries.append(AllowEntry(parse_address(str(item), where), str(item)))
            continue
        if not isinstance(item, dict) or "address" not in item:
            raise SecawareError(f"{where}: needs 'address:' (an address or CIDR range)")
        unknown = set(item) - {"address", "name", "until", "rules"}
        if unknown:
            raise SecawareError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"allowed: address, name, until, rules")
        until = item.get("until")
        if until is not None and not isinstance(until, dt.date):
            raise SecawareError(f"{where}: 'until' must be a date like 2027-06-30, not {until!r}")
        rules = item.get("rules") or []
        if not isinstance(rules, list):
            raise SecawareError(f"{where}: 'rules' must be a list of rule ids or tags")
        entries.append(AllowEntry(parse_address(str(item["address"]), where), str(item.get("name") or item["address"]),
                                  until, tuple(str(r) for r in rules)))
    return entries


def suppression(entries: list[AllowEntry]) -> tuple[pl.Expr, pl.Expr]:
    """(suppressed, suppressed_by) over an alerts frame (src_ip, ts, rule_id, tags)."""
    by = pl.lit(None, dtype=pl.String)
    for entry in reversed(entries):  # the first entry that matches names the suppression
        cond = in_network(pl.col("src_ip"), entry.network)
        if entry.until is not None:
            end = dt.datetime.combine(entry.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            cond = cond & (pl.col("ts") < end)
        if entry.rules:
            wanted = list(entry.rules)
            cond = cond & (pl.col("rule_id").is_in(wanted) | pl.col("tags").list.eval(pl.element().is_in(wanted))
                           .list.any())
        by = pl.when(cond.fill_null(False)).then(pl.lit(f"allowlist: {entry.name}")).otherwise(by)
    return by.is_not_null().alias("suppressed"), by.alias("suppressed_by")
