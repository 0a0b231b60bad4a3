"""The `secaware` command: thin wrappers that parse options and call one stage function each."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from secaware import __version__
from secaware.errors import SecawareError

DEFAULT_TZ = "Asia/Shanghai"


def _fail(exc: SecawareError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="secaware")
def cli() -> None:
    """Security situational awareness for the government networks and websites of Gansu Province."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--store", "store", required=True, type=click.Path(path_type=Path),
              help="Store directory (Delta Lake tables); created if missing.")
@click.option("--format", "fmt", default=None, help="Read every file as this format instead of sniffing it.")
@click.option("--prefecture", default=None, help="GB/T 2260 code or name of the prefecture the logs come from.")
@click.option("--tz", default=DEFAULT_TZ, show_default=True, help="Time zone of logs that carry none.")
@click.option("--settle", default=60.0, show_default=True, type=float,
              help="Seconds a plain file must be unmodified before an unterminated last line is read "
                   "(0 for files that are complete, such as archives copied in).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def ingest(paths: tuple[Path, ...], store: Path, fmt: str | None, prefecture: str | None, tz: str,
           settle: float, as_json: bool) -> None:
    """Read log files and directories (recursively; .gz, .bz2, .zst too) into the store.

    Every line becomes an event, a reject with its reason, or a counted blank/comment line. Files
    already read are not read again; grown and rotated files are read from where they stopped.
    Exits 1 if any file could not be read.
    """
    from secaware.ingest import ingest as run_ingest
    from secaware.report_text import ingest_summary, progress_bar

    try:
        with progress_bar() as progress:
            report = run_ingest(paths, store, format=fmt, prefecture=prefecture, tz=tz, progress=progress,
                                settle_seconds=settle)
    except SecawareError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(ingest_summary(report))
    for f in report.errors:
        click.echo(f"error: {f.path}: {f.error}", err=True)
    if report.errors:
        sys.exit(1)


@cli.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Directory to write the logs into.")
@click.option("--days", default=2, show_default=True, help="Days of traffic to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed; the same seed gives the same files.")
@click.option("--scale", default=1.0, show_default=True, help="Traffic multiplier (1.0 is a few MB).")
def samples(out: Path, days: int, seed: int, scale: float) -> None:
    """Generate realistic logs for the 14 prefectures with planted attacks and a labels file."""
    from secaware.samples import generate

    try:
        summary = generate(out, days=days, seed=seed, scale=scale)
    except FileExistsError as exc:
        raise click.ClickException(f"{out} is not empty and holds no earlier sample logs; choose another --out") \
            from exc
    click.echo(f"wrote {sum(summary.files.values()):,} lines ({summary.total_bytes / 1e6:.1f} MB) in "
               f"{len(summary.files)} files to {out}, with {summary.labelled_lines:,} labelled lines and "
               f"{summary.behaviours} labelled behaviours")


def main() -> None:
    cli()
