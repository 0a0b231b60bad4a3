"""The `secaware` command: thin wrappers that parse options and call one stage function each."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

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


def _when(value: str | None, tz: str, option: str) -> dt.datetime | None:
    """A date or date-time from the command line; zone-less values are read in tz."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date or time like 2026-11-23 or 2026-11-23T08:00",
                                 param_hint=option) from exc
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))


@cli.command()
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--rules", "rules", multiple=True, type=click.Path(path_type=Path),
              help="Rule file or folder (repeatable; default: the shipped pack).")
@click.option("--since", default=None, help="Rescore events from this time on (date or ISO time) and rewrite "
                                            "their alerts, instead of scoring only new events.")
@click.option("--until", default=None, help="With --since: rescore events before this time.")
@click.option("--tz", default=DEFAULT_TZ, show_default=True, help="Zone of --since/--until without one.")
@click.option("--allowlist", default=None, type=click.Path(path_type=Path),
              help="YAML file of authorized scanners: their alerts are kept but suppressed.")
@click.option("--allow", multiple=True, help="Address or CIDR range of an authorized scanner (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def detect(store: Path, rules: tuple[Path, ...], since: str | None, until: str | None, tz: str,
           allowlist: Path | None, allow: tuple[str, ...], as_json: bool) -> None:
    """Run Sigma rules (single-event and correlation) over the events into the alerts table.

    Scores only events not scored before, so it can run after every ingest; --since/--until
    rescore a window (after changing rules) and replace that window's alerts.
    """
    from secaware.detect import detect as run_detect
    from secaware.report_text import detect_summary

    try:
        report = run_detect(store, list(rules) or None, since=_when(since, tz, "--since"),
                            until=_when(until, tz, "--until"), allowlist=allowlist, allow=allow)
    except SecawareError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(detect_summary(report))
    for file, reason in report.failed:
        click.echo(f"rule not used: {file}: {reason}", err=True)


@cli.group()
def rules() -> None:
    """Check and test Sigma rules: compile every rule and report why one fails; run rule examples."""


@rules.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: rules, converted, failed.")
def rules_check(paths: tuple[Path, ...], as_json: bool) -> None:
    """Parse, map and compile every rule (default: the shipped pack); exit 1 if any fails."""
    from secaware.detect.rules import compile_rules
    from secaware.report_text import rules_check_summary
    from secaware.resources import bundled

    missing = [p for p in paths if not p.exists()]
    for p in missing:
        click.echo(f"error: {p}: no such file or folder", err=True)
    comp = compile_rules([p for p in paths if p.exists()] if paths else [bundled("rules")])
    converted = len(comp.rules) + len(comp.correlations)
    if as_json:
        failed = [{"file": f, "reason": r} for f, r in comp.failed]
        failed += [{"file": str(p), "reason": "no such file or folder"} for p in missing]
        click.echo(json.dumps({"rules": converted + len(failed), "converted": converted, "failed": failed},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(rules_check_summary(comp))
    if comp.failed or missing:
        sys.exit(1)


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def rules_test(paths: tuple[Path, ...]) -> None:
    """Run every rule's examples (default: the shipped pack); exit 1 if any example fails."""
    from secaware.detect.examples import run_examples
    from secaware.detect.rules import compile_rules
    from secaware.resources import bundled

    comp = compile_rules(list(paths) or [bundled("rules")])
    results = run_examples(comp)
    failed = [r for r in results if not r.passed]
    for r in failed:
        click.echo(f"FAIL {r.file or r.rule_id}: {r.title}: expected {r.expected}: {r.reason}\n    {r.text[:300]}")
    for file, reason in comp.failed:
        click.echo(f"FAIL {file}: does not compile: {reason}")
    click.echo(f"{len(results) - len(failed)} of {len(results)} examples passed in "
               f"{len({r.rule_id for r in results})} rules")
    if failed or comp.failed:
        sys.exit(1)


def _duration(value: str, option: str) -> dt.timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise click.BadParameter(f"{value!r} is not a duration like 30m, 2h or 1d", param_hint=option)
    return dt.timedelta(seconds=int(text[:-1]) * units[text[-1]])


@cli.group(invoke_without_command=True)
@click.option("--store", "store", type=click.Path(path_type=Path), help="Store directory.")
@click.option("--inventory", "inventory_path", default=None, type=click.Path(path_type=Path),
              help="Inventory file (default: inventory.yaml here, else the one matching the sample logs).")
@click.option("--gap", default="30m", show_default=True,
              help="Alerts of one source against one system further apart than this are separate incidents.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def incidents(ctx: click.Context, store: Path | None, inventory_path: Path | None, gap: str, as_json: bool) -> None:
    """Group alerts into incidents (same source, same system, close in time) with severity, GB/T 20986 category
    and grade; rerunning updates them and keeps responders' notes."""
    if ctx.invoked_subcommand is not None:
        return
    if store is None:
        raise click.UsageError("missing --store")
    from secaware.incidents import incidents as run_incidents

    try:
        report = run_incidents(store, inventory=inventory_path, gap=_duration(gap, "--gap"))
    except SecawareError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    severities = ", ".join(f"{report.by_severity[s]} {s}" for s in ("critical", "high", "medium", "low")
                           if report.by_severity.get(s))
    grades = ", ".join(f"{n} {g}" for g, n in sorted(report.by_grade.items()))
    click.echo(f"{report.incidents} incidents ({report.new} new, {report.updated} updated) from {report.alerts:,} "
               f"alerts ({report.suppressed:,} from authorized scanners or allowlisted sources left out); "
               f"severity: {severities or 'none'}; grade: {grades or 'none'}; store {report.store}")


@incidents.command("note")
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.argument("incident_id")
@click.argument("text", required=False)
@click.option("--status", default=None, help="Set the status (e.g. investigating, closed, false_positive).")
def incidents_note(store: Path, incident_id: str, text: str | None, status: str | None) -> None:
    """Add a note to an incident and/or set its status; both survive later runs."""
    from secaware.incidents import add_note

    if not text and not status:
        raise click.UsageError("give a note text, --status, or both")
    try:
        row = add_note(store, incident_id, text, status)
    except SecawareError as exc:
        raise _fail(exc) from exc
    click.echo(f"{row['incident_id']}: status {row['status']}; notes:\n{row['notes'] or ''}")


@cli.group()
def inventory() -> None:
    """The inventory of systems (YAML): check it before a run uses it to attribute events."""


@inventory.command("check")
@click.option("--inventory", "path", default=None, type=click.Path(path_type=Path),
              help="Inventory file (default: inventory.yaml here, else the one matching the sample logs).")
@click.option("--json", "as_json", is_flag=True, help="Print systems and problems as JSON.")
def inventory_check(path: Path | None, as_json: bool) -> None:
    """Validate the inventory (prefectures, levels, logs, hosts, overlapping ranges); exit 1 on a problem."""
    from secaware.inventory import load_inventory

    try:
        inv = load_inventory(path)
    except SecawareError as exc:
        raise _fail(exc) from exc
    levels = {lv: sum(1 for s in inv.systems if s.level == lv) for lv in (2, 3)}
    if as_json:
        click.echo(json.dumps({"inventory": str(inv.path), "systems": len(inv.systems),
                               "prefectures": len({s.prefecture for s in inv.systems}),
                               "level_2": levels[2], "level_3": levels[3],
                               "problems": [p.__dict__ for p in inv.problems]}, ensure_ascii=False, indent=2))
    else:
        for problem in inv.problems:
            click.echo(str(problem))
        click.echo(f"{inv.path}: {len(inv.systems)} systems in {len({s.prefecture for s in inv.systems})} "
                   f"prefectures ({levels[3]} at level 3, {levels[2]} at level 2), {len(inv.problems)} problems")
    if inv.problems:
        sys.exit(1)


@cli.group()
def models() -> None:
    """Anomaly models: train them on a baseline period of the store, show their model cards."""


@models.command("train")
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--since", default=None, help="Start of the baseline period (date or ISO time; default: the first "
                                            "event).")
@click.option("--until", default=None, help="End of the baseline period, exclusive (default: after the last event).")
@click.option("--models", "models_dir", default="models", show_default=True, type=click.Path(path_type=Path),
              help="Folder to write the models and their cards to.")
@click.option("--tz", default=DEFAULT_TZ, show_default=True,
              help="Zone of --since/--until without one, and of days and nights in the features.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def models_train(store: Path, since: str | None, until: str | None, models_dir: Path, tz: str, as_json: bool) -> None:
    """Train the request profile and the behaviour models on the baseline period; write them with their
    model cards (features, baseline, row counts, parameters, library versions, threshold, sha256)."""
    from secaware.anomaly import train

    try:
        report = train(store, since=_when(since, tz, "--since"), until=_when(until, tz, "--until"),
                       models_dir=models_dir, tz=tz)
    except SecawareError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if as_json else report.summary())


@models.command("show")
@click.option("--models", "models_dir", default="models", show_default=True, type=click.Path(path_type=Path),
              help="Folder of the models.")
@click.option("--allow-shared-models", is_flag=True, help="Do not refuse models that other users can write.")
def models_show(models_dir: Path, allow_shared_models: bool) -> None:
    """Print each model card and whether its file matches it (without loading the model); exit 1 if one does not."""
    from secaware.anomaly.models import verify

    result = verify(models_dir, allow_shared=allow_shared_models)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if any(r["status"] not in ("ok", "missing") for r in result.values()):
        sys.exit(1)


@cli.command("anomalies")
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--models", "models_dir", default="models", show_default=True, type=click.Path(path_type=Path),
              help="Folder of the trained models; without them a baseline is fitted on the data at hand.")
@click.option("--inventory", "inventory_path", default=None, type=click.Path(path_type=Path),
              help="Inventory file naming the systems (default: inventory.yaml here, else the sample logs' one).")
@click.option("--allow-shared-models", is_flag=True,
              help="Load models even from a folder or file other users can write (a model file runs code when "
                   "loaded: only if every such user is trusted).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def anomalies_command(store: Path, models_dir: Path, inventory_path: Path | None, allow_shared_models: bool,
                      as_json: bool) -> None:
    """Score new web requests and entity windows for anomalies into the anomalies table, with explanations.

    Only events added since the last run are scored (a rerun adds nothing); without a trained model each
    level fits a baseline on the data at hand and says so.
    """
    from secaware.anomaly import anomalies as run_anomalies
    from secaware.report_text import progress_bar

    try:
        with progress_bar() as progress:
            report = run_anomalies(store, models=models_dir, inventory=inventory_path,
                                   allow_shared_models=allow_shared_models, progress=progress)
    except SecawareError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if as_json else report.summary())


def main() -> None:
    cli()
