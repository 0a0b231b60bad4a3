"""The `secaware` command: thin wrappers that parse options and call one stage function each."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from secaware import __version__
from secaware.errors import SecawareError

DEFAULT_TZ = "Asia/Shanghai"


class TimeZone(click.ParamType):
    """An IANA time zone name, checked when the command line is read: a misspelt zone is a usage
    error naming the option, not a traceback halfway through a run."""

    name = "zone"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(f"{value!r} is not a time zone (e.g. Asia/Shanghai, UTC)", param, ctx)
        return str(value)


ZONE = TimeZone()


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
@click.option("--tz", type=ZONE, default=DEFAULT_TZ, show_default=True, help="Time zone of logs that carry none.")
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


def _window(since: str | None, until: str | None, tz: str, options: tuple[str, str] = ("--since", "--until")
            ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """--since and --until read as _when reads them; an empty or reversed window is a usage error
    (it would silently select nothing, or for `detect` rewrite no window at all)."""
    start, end = _when(since, tz, options[0]), _when(until, tz, options[1])
    if start is not None and end is not None and start >= end:
        raise click.BadParameter(f"{until!r} is not after {since!r}: the window ends before it starts",
                                 param_hint=options[1])
    return start, end


@cli.command()
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--rules", "rules", multiple=True, type=click.Path(path_type=Path),
              help="Rule file or folder (repeatable; default: the shipped pack).")
@click.option("--since", default=None, help="Rescore events from this time on (date or ISO time) and rewrite "
                                            "their alerts, instead of scoring only new events.")
@click.option("--until", default=None, help="With --since: rescore events before this time.")
@click.option("--tz", type=ZONE, default=DEFAULT_TZ, show_default=True, help="Zone of --since/--until without one.")
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
        start, end = _window(since, until, tz)
        report = run_detect(store, list(rules) or None, since=start, until=end, allowlist=allowlist, allow=allow)
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
    from secaware.config import parse_duration

    duration = parse_duration(value)
    if duration is None:
        raise click.BadParameter(f"{value!r} is not a duration like 30m, 2h or 1d", param_hint=option)
    return duration


@cli.group(invoke_without_command=True)
@click.option("--store", "store", type=click.Path(path_type=Path), help="Store directory.")
@click.option("--inventory", "inventory_path", default=None, type=click.Path(path_type=Path),
              help="Inventory file (default: inventory.yaml here, else the one matching the sample logs).")
@click.option("--gap", default="4h", show_default=True,
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


@cli.command()
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table",
              show_default=True, help="Output format.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write to this file instead of stdout (required for parquet on a terminal).")
@click.option("--max-rows", default=100, show_default=True, help="Rows shown in table format.")
def query(store: Path, sql: str, fmt: str, out: Path | None, max_rows: int) -> None:
    """Run read-only SQL over the store: events, rejects, alerts, anomalies, incidents, compliance.

    Example: secaware query --store store "SELECT src_ip, count(*) AS n FROM alerts GROUP BY src_ip ORDER BY n DESC"
    """
    from secaware.report_text import table
    from secaware.sql import query as run_query

    try:
        result = run_query(store, sql)
    except SecawareError as exc:
        raise _fail(exc) from exc
    if fmt == "parquet":
        if out is None and sys.stdout.isatty():
            raise click.UsageError("parquet output is binary: give --out FILE or redirect stdout")
        result.write_parquet(out if out is not None else sys.stdout.buffer)
        return
    if fmt == "table":
        text = table(result, max_rows=max_rows) + f"\n({result.height:,} rows)"
    elif fmt == "csv":
        text = result.write_csv()
    else:
        text = json.dumps(result.to_dicts(), ensure_ascii=False, default=str, indent=1)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=not text.endswith("\n"))


@cli.command()
@click.argument("entity_type", type=click.Choice(["ip", "user", "host", "system"]))
@click.argument("value")
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--since", default=None, help="From this date or time.")
@click.option("--until", default=None, help="Before this date or time.")
@click.option("--tz", type=ZONE, default=DEFAULT_TZ, show_default=True, help="Zone of --since/--until without one.")
@click.option("--limit", default=200, show_default=True, help="Rows of each kind shown.")
@click.option("--inventory", "inventory_path", default=None, type=click.Path(path_type=Path),
              help="Inventory file (for `hunt system`).")
@click.option("--json", "as_json", is_flag=True, help="Print counts and timeline as JSON.")
def hunt(entity_type: str, value: str, store: Path, since: str | None, until: str | None, tz: str, limit: int,
         inventory_path: Path | None, as_json: bool) -> None:
    """Timeline of one ip, user, host or system across events, alerts, anomalies and incidents."""
    from secaware.hunt import hunt as run_hunt
    from secaware.report_text import safe, table

    try:
        start, end = _window(since, until, tz)
        result = run_hunt(store, entity_type, value, since=start, until=end, limit=limit, inventory=inventory_path)
    except SecawareError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
        return
    counts = ", ".join(f"{n:,} {k}s" for k, n in result.counts.items())
    click.echo(f"{entity_type} {safe(value)}: {counts or 'nothing found'}")
    if result.timeline.height:
        shown = result.timeline.with_columns(_ts_text())
        click.echo(table(shown.select("ts", "kind", "summary", "where", "id"), max_width=100))


def _ts_text() -> Any:
    import polars as pl

    return pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S")


@cli.group()
def show() -> None:
    """Everything about one alert or incident, including the raw log lines (file:line)."""


def _print_finding(finding: Any) -> None:
    from secaware.report_text import safe, table

    for key, value in finding.record.items():
        if value is None or value == []:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) if not isinstance(v, dict) else f"{v.get('rule_title')} ×{v.get('count')}"
                              for v in value[:20]) + (f" (+{len(value) - 20})" if len(value) > 20 else "")
        click.echo(f"{key:>18}: {safe(value, 400)}")
    if finding.alerts is not None and finding.alerts.height:
        click.echo("\nalerts:")
        click.echo(table(finding.alerts.with_columns(_ts_text()), max_width=60, max_rows=50))
    click.echo("\nraw lines:")
    for row in finding.lines.iter_rows(named=True):
        click.echo(f"{safe(row['file'])}:{row['line_no']}: {safe(row['raw'], 2000)}")
    if finding.more_lines:
        click.echo(f"... {finding.more_lines:,} more lines")


@show.command("alert")
@click.argument("alert_id")
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
def show_alert(alert_id: str, store: Path) -> None:
    """One alert: rule, origin, and the raw line (for a correlation, the lines of its window)."""
    from secaware.show import show_alert as find

    try:
        _print_finding(find(store, alert_id))
    except SecawareError as exc:
        raise _fail(exc) from exc


@show.command("incident")
@click.argument("incident_id")
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
def show_incident(incident_id: str, store: Path) -> None:
    """One incident: summary, grade, its alerts in time order and the raw lines behind them."""
    from secaware.show import show_incident as find

    try:
        _print_finding(find(store, incident_id))
    except SecawareError as exc:
        raise _fail(exc) from exc


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


@cli.command("run")
@click.option("--config", "config_path", default=None, type=click.Path(path_type=Path),
              help="Configuration file (default: secaware.toml here if it exists).")
@click.option("--store", "store", default=None, type=click.Path(path_type=Path), help="Store (overrides config).")
@click.option("--inventory", "inventory_path", default=None, type=click.Path(path_type=Path),
              help="Inventory file (overrides config).")
@click.option("--rules", "rules", multiple=True, type=click.Path(path_type=Path), help="Rule folder or file.")
@click.option("--allowlist", default=None, type=click.Path(path_type=Path), help="Scanner allowlist file.")
@click.option("--collect", "collect", multiple=True, type=click.Path(path_type=Path),
              help="Collector directory to read (repeatable; prefecture from its name); replaces the config's.")
@click.option("--tz", type=ZONE, default=None, help="Time zone of --collect directories (default Asia/Shanghai).")
@click.option("--settle", default=None, type=float, help="Seconds a file must be quiet before its last line is read.")
@click.option("--fail-on", "fail_on", default=None, type=click.Choice(["low", "medium", "high", "critical"]),
              help="Exit 3 when new or updated incidents reach this severity.")
@click.option("--report-dir", "report_dir", default=None, type=click.Path(path_type=Path),
              help="Where the report goes (overrides config; default reports/).")
@click.option("--lang", default=None, type=click.Choice(["zh", "en"]), help="Report language (overrides config).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_command(config_path: Path | None, store: Path | None, inventory_path: Path | None, rules: tuple[Path, ...],
                allowlist: Path | None, collect: tuple[Path, ...], tz: str | None, settle: float | None,
                fail_on: str | None, report_dir: Path | None, lang: str | None, as_json: bool) -> None:
    """The nightly job: ingest every collector, then detect, incidents and the report, each on what is new.

    Exit codes: 0 ok, 1 error, 2 usage or configuration error, 3 --fail-on found incidents,
    75 another run holds the store's lock.
    """
    from secaware.config import Collector, Config, load_config
    from secaware.nightly import EXIT_LOCKED, EXIT_USAGE, LockHeld, run

    if config_path is None and Path("secaware.toml").exists():
        config_path = Path("secaware.toml")
    try:
        cfg = load_config(config_path) if config_path is not None else Config()
    except SecawareError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if config_path is None:
        cfg.problems = []
    cfg.store = store or cfg.store
    cfg.inventory = inventory_path or cfg.inventory
    cfg.rules = list(rules) or cfg.rules
    cfg.allowlist = allowlist or cfg.allowlist
    cfg.settle = settle if settle is not None else cfg.settle
    cfg.report_dir = report_dir or cfg.report_dir
    cfg.lang = lang or cfg.lang
    if collect:
        cfg.collectors = [Collector(p, None, tz or "Asia/Shanghai") for p in collect]
    if cfg.store is None:
        cfg.problems.append("no store: give --store or store = ... in the configuration")
    if not cfg.collectors:
        cfg.problems.append("nothing to read: give --collect DIR or [[collectors]] in the configuration")
    if cfg.problems:
        for problem in cfg.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        report = run(cfg, fail_on=fail_on)
    except LockHeld as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except SecawareError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        from secaware.report_text import run_summary

        click.echo(run_summary(report))
    sys.exit(report.exit_code)


@cli.command()
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--keep", "keep", required=True, type=int, help="Days of data to keep (at least 183 unless --force).")
@click.option("--force", is_flag=True, help="Allow keeping less than the legal six months.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
def retain(store: Path, keep: int, force: bool, as_json: bool) -> None:
    """Remove data older than --keep days from every table and its files (Delta vacuum)."""
    from secaware.nightly import EXIT_LOCKED, LockHeld, StoreLock
    from secaware.retain import retain as run_retain

    try:
        with StoreLock(Path(store), "retain"):
            report = run_retain(store, keep, force=force)
    except LockHeld as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except SecawareError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        rows = ", ".join(f"{n:,} {t}" for t, n in report.deleted.items()) or "nothing"
        click.echo(f"removed rows older than {report.cutoff}: {rows}; {report.files_removed} files deleted")


@cli.command("report")
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--out", "out", default="reports", show_default=True, type=click.Path(path_type=Path),
              help="Folder to write the report into.")
@click.option("--period", default=None, help="FROM..TO (dates or times; default: all the events).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--prefecture", "prefecture", multiple=True, help="Only these prefectures (code or name; repeatable).")
@click.option("--inventory", "inventory_path", default=None, type=click.Path(path_type=Path), help="Inventory file.")
@click.option("--models", default=None, type=click.Path(path_type=Path), help="Models folder (for the appendix).")
@click.option("--tz", type=ZONE, default=DEFAULT_TZ, show_default=True, help="Zone of --period without one.")
@click.option("--no-mask", "no_mask", is_flag=True,
              help="Show personal information (ID, mobile, card numbers) unmasked. Only for authorized use.")
def report_command(store: Path, out: Path, period: str | None, lang: str, prefecture: tuple[str, ...],
                   inventory_path: Path | None, models: Path | None, tz: str, no_mask: bool) -> None:
    """Write the HTML report (index, prefectures, incidents, systems, appendix) with summary.json and CSVs."""
    from secaware import prefectures as pref
    from secaware.report import report as run_report

    window = None
    if period:
        lo, sep, hi = period.partition("..")
        if not sep or not lo or not hi:
            raise click.BadParameter("use FROM..TO, e.g. 2026-11-01..2026-12-01", param_hint="--period")
        window = _window(lo, hi, tz, ("--period", "--period"))
    codes = []
    for p in prefecture:
        code = pref.resolve(p)
        if code is None:
            raise click.BadParameter(f"{p!r} is not one of Gansu's 14 prefectures", param_hint="--prefecture")
        codes.append(code)
    try:
        result = run_report(store, out, period=window, lang=lang, prefectures=codes or None,  # type: ignore[arg-type]
                            inventory=inventory_path, mask=not no_mask, models=models)
    except SecawareError as exc:
        raise _fail(exc) from exc
    if result.missing:
        click.echo(f"not in the store yet (the report says so): {', '.join(result.missing)}", err=True)
    click.echo(f"{result.pages} pages, largest {result.largest_page / 1e3:,.0f} kB, in {result.seconds:.1f}s")
    click.echo(result.index)


@cli.command()
@click.option("--out", "out", default=None, type=click.Path(path_type=Path),
              help="Folder for the store and the report (default: a new temporary folder).")
@click.option("--generate", is_flag=True, help="Generate fresh sample logs instead of using the bundled ones.")
@click.option("--days", default=2, show_default=True, help="With --generate: days of traffic.")
@click.option("--scale", default=1.0, show_default=True, help="With --generate: traffic multiplier.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def demo(out: Path | None, generate: bool, days: int, scale: float, lang: str) -> None:
    """Run the whole pipeline on the sample logs of the 14 prefectures and print the report's path."""
    import tempfile

    from secaware.config import Collector, Config
    from secaware.nightly import run
    from secaware.report_text import run_summary
    from secaware.resources import bundled

    out = out or Path(tempfile.mkdtemp(prefix="secaware-demo-"))
    logs = bundled("sample_logs")
    if generate:
        from secaware.samples import generate as make_samples

        logs = out / "sample_logs"
        make_samples(logs, days=days, scale=scale)
    # the sample logs' 酒泉 firewall writes UTC without saying so (see sample_logs/README.md): its own collector
    cfg = Config(store=out / "store", inventory=logs / "inventory.yaml", report_dir=out / "report", lang=lang,
                 settle=0, collectors=[Collector(logs), Collector(logs / "620900-jiuquan" / "firewall", tz="UTC")])
    try:
        report = run(cfg)
    except SecawareError as exc:
        raise _fail(exc) from exc
    click.echo(run_summary(report))
    if report.exit_code:
        sys.exit(report.exit_code)


@cli.group("config")
def config_group() -> None:
    """The nightly configuration file (TOML)."""


@config_group.command("check")
@click.option("--config", "config_path", default="secaware.toml", show_default=True,
              type=click.Path(path_type=Path), help="Configuration file to check.")
def config_check(config_path: Path) -> None:
    """Validate the configuration: every setting, path, prefecture, zone and format; exit 2 on a problem."""
    from secaware.config import load_config
    from secaware.nightly import EXIT_USAGE

    try:
        cfg = load_config(config_path)
    except SecawareError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for problem in cfg.problems:
        click.echo(f"error: {problem}", err=True)
    if cfg.problems:
        sys.exit(EXIT_USAGE)
    click.echo(f"{cfg.path}: ok: store {cfg.store}, {len(cfg.collectors)} collectors, "
               f"rules {', '.join(map(str, cfg.rules)) or 'shipped pack'}, inventory {cfg.inventory or 'default'}")


@cli.command()
@click.option("--store", "store", required=True, type=click.Path(path_type=Path), help="Store directory.")
@click.option("--inventory", "inventory_path", default=None, type=click.Path(path_type=Path),
              help="Inventory file (default: inventory.yaml here, else the one matching the sample logs).")
@click.option("--period", default=None,
              help="FROM..TO: dates are whole days in --tz, both included (2026-11-01..2026-11-30); ISO times "
                   "end before TO; either side may be left open. Default: everything in the store.")
@click.option("--tz", type=ZONE, default=DEFAULT_TZ, show_default=True,
              help="Zone of --period dates and of times without one, and of the default period's days.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def compliance(store: Path, inventory_path: Path | None, period: str | None, tz: str, as_json: bool) -> None:
    """Judge every system's graded-protection (GB/T 22239-2019) items from its logs into the compliance table.

    Each verdict is 不符合 (the logs show a violation), 部分符合 (the logs agree; a person still checks the
    configuration, 需人工核查), 证据不足 or 不适用, with the clause, the evidence and example lines. Logs
    never prove 符合. Each run replaces the table (earlier runs remain as earlier Delta versions).
    """
    from secaware.compliance import compliance as run_compliance
    from secaware.compliance import parse_period

    try:
        bounds = parse_period(period, tz) if period else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    try:
        report = run_compliance(store, inventory=inventory_path, period=bounds, tz=tz)
    except SecawareError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    counts = ", ".join(f"{n} {v}" for v, n in report.by_verdict.items())
    click.echo(f"{report.rows} verdicts for {report.systems} systems from {report.period_start} to "
               f"{report.period_end}: {counts}; {report.high_risk} high risk; store {report.store}")
    for row in report.noncompliant:
        flag = " [高风险]" if row["high_risk"] else ""
        click.echo(f"不符合{flag} {row['system']} {row['clause']}: {row['reason']}")
    for problem in report.inventory_problems:
        click.echo(f"inventory: {problem}", err=True)


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
@click.option("--tz", type=ZONE, default=DEFAULT_TZ, show_default=True,
              help="Zone of --since/--until without one, and of days and nights in the features.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def models_train(store: Path, since: str | None, until: str | None, models_dir: Path, tz: str, as_json: bool) -> None:
    """Train the request profile and the behaviour models on the baseline period; write them with their
    model cards (features, baseline, row counts, parameters, library versions, threshold, sha256)."""
    from secaware.anomaly import train

    try:
        start, end = _window(since, until, tz)
        report = train(store, since=start, until=end, models_dir=models_dir, tz=tz)
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
