"""Sample logs for all 14 prefectures, with planted attacks and ground-truth labels.

`generate` is deterministic (same arguments, same bytes) so the committed `sample_logs/` can be
rebuilt and diffed, and benchmarks can grow the traffic with `scale` without changing the attacks.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from secaware.samples.auth import normal_auth
from secaware.samples.firewall import normal_sessions
from secaware.samples.ids import normal_eve
from secaware.samples.inventory import inventory_yaml
from secaware.samples.iptables import normal_kern
from secaware.samples.labels import write_labels
from secaware.samples.model import Bundle
from secaware.samples.readme import readme_text
from secaware.samples.scenarios import plant
from secaware.samples.topology import build_topology
from secaware.samples.web import normal_requests
from secaware.samples.writer import write_logs

__all__ = ["GenerationSummary", "generate"]

_OWN_FILES = ("inventory.yaml", "labels.csv", "labels_behaviour.csv", "README.md")


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote: files (relative path -> physical line count) and label counts."""

    out_dir: Path
    files: dict[str, int]
    labelled_lines: int
    behaviours: int
    total_bytes: int


def _clear(out_dir: Path) -> None:
    """Remove a previous generation (recognised by its inventory), refuse to touch anything else."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return
    if not (out_dir / "inventory.yaml").exists():
        raise FileExistsError(f"{out_dir} is not empty and holds no previous sample generation")
    for child in out_dir.iterdir():
        if child.is_dir() and (child.name == "province" or child.name[:6].isdigit()):
            shutil.rmtree(child)
        elif child.name in _OWN_FILES:
            child.unlink()


def generate(
    out_dir: Path, *, days: int = 2, seed: int = 7, start: date = date(2026, 11, 23), scale: float = 1.0
) -> GenerationSummary:
    """Write `days` days of logs starting `start` (Beijing time) into `out_dir`.

    `scale` multiplies ordinary traffic only; the planted scenarios stay the same, which keeps the
    labels comparable between a small sample and a benchmark-sized run.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if scale <= 0:
        raise ValueError("scale must be positive")
    out_dir = Path(out_dir)
    _clear(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sites = build_topology()
    bundle = Bundle()
    for site in sites:
        for n in range(days):
            day = start + timedelta(days=n)
            rng = random.Random(f"{seed}:{site.code}:{day}")
            bundle.fw.setdefault(site.code, []).extend(normal_sessions(site, day, rng, scale))
            for system in site.systems:
                reqs = normal_requests(site, system, day, rng, scale)
                bundle.web.setdefault(system.id, []).extend(reqs)
                if system.kind == "portal" or system.web == "iis":
                    bundle.eve += normal_eve(system, reqs, rng)
                if system.auth_file:
                    bundle.auth.setdefault(system.id, []).extend(normal_auth(site, system, day, rng, scale))
                if system.ufw:
                    bundle.kern.setdefault(system.id, []).extend(normal_kern(site, system, day, rng, scale))
    plant(bundle, sites, start, days, seed)

    written = write_logs(out_dir, sites, bundle, start, days)
    write_labels(out_dir, written.labels, bundle.behaviours)
    (out_dir / "inventory.yaml").write_text(inventory_yaml(sites), encoding="utf-8")
    (out_dir / "README.md").write_text(readme_text(sites, start, days, seed), encoding="utf-8")
    total = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    return GenerationSummary(out_dir, written.line_counts, len(written.labels), len(bundle.behaviours), total)
