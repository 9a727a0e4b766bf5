"""The ``putback`` command: the app by default, and subcommands for set-up and inspection."""

from __future__ import annotations

import csv
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from putback_tui import logs
from putback_tui.cli_context import (
    Context,
    RootGroup,
    current_context,
    echo_json,
    pass_context,
)
from putback_tui.config import (
    ConfigError,
    reference,
    resolve_paths,
    save_settings,
    settings_to_toml,
)
from putback_tui.dataset import DEMO_DIR, Dataset, DatasetError
from putback_tui.dataset_cli import as_of_moment, as_of_option
from putback_tui.domain import wording
from putback_tui.ledger import LedgerError
from putback_tui.ledger.load import load_dataset
from putback_tui.reports import build_report, chart_lines

# Sub-commands of their own modules, imported when run (or listed by --help): those modules
# import cli_context, never this module.


def _barcode() -> click.Command:
    from putback_tui.barcode_cli import barcode

    return barcode


def _central() -> click.Command:
    from putback_tui.central.cli import central
    from putback_tui.dashboard.cli import dashboard

    # Added here, not in central/cli.py: the central store's package imports no Textual, and
    # the dashboard is a Textual app (a client of the API, in a package of its own).
    central.add_command(dashboard)
    return central


def _sync() -> click.Command:
    from putback_tui.sync.cli import sync

    return sync


def _connect() -> click.Command:
    from putback_tui.sync.cli import connect

    return connect


def _worklist() -> click.Command:
    from putback_tui.worklist_cli import worklist

    return worklist


def _scanners() -> click.Command:
    from putback_tui.scanners.cli import make_scanners_group

    # The root group's Context: --home / --config apply here as everywhere.
    return make_scanners_group(lambda: current_context().settings().scanners)


@click.group(
    cls=RootGroup,
    lazy={
        "barcode": _barcode,
        "central": _central,
        "connect": _connect,
        "scanners": _scanners,
        "sync": _sync,
        "worklist": _worklist,
    },
    no_location=("central",),
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PUTBACK_HOME",
    help="Keep config, data and logs under this directory (env: PUTBACK_HOME).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="PUTBACK_CONFIG",
    help="Use this configuration file (env: PUTBACK_CONFIG).",
)
@click.version_option(package_name="putback")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, config_file: Path | None) -> None:
    """Clear exception orders and put stock back, with a scanner in hand.

    With no command, starts the terminal app.
    """
    ctx.obj = Context(resolve_paths(home, config_file), home, config_file)
    if ctx.invoked_subcommand is None:
        ctx.invoke(run_app)


@cli.command("app")
@click.option(
    "--sync/--no-sync",
    default=True,
    show_default=True,
    help="Run the sync worker in the app; --no-sync where putback-sync.service runs it.",
)
@pass_context
def run_app(context: Context, sync: bool) -> None:
    """Start the terminal app (the default command)."""
    from putback_tui.launch import launch

    sys.exit(launch(context.paths, context.settings(), sync=sync))


@cli.command()
@click.option("--demo", is_flag=True, help="Load the bundled demo data set.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Load a data set directory (format: docs/data-format.md).",
)
@as_of_option
@pass_context
def init(context: Context, demo: bool, data_dir: Path | None, as_of: str | None) -> None:
    """Set up the local store from a data set (only into a ledger with no entries)."""
    if demo == (data_dir is not None):
        raise click.UsageError("Give exactly one of --demo or --data DIR.")
    dataset = Dataset(data_dir or DEMO_DIR, as_of=as_of_moment(as_of))
    try:
        info = dataset.info
        # A --config file that does not exist yet is what init is for: it writes it.
        settings = context.settings(must_exist=False)
        if not context.paths.config_file.exists():
            settings = settings.model_copy(
                update={
                    "terminal": settings.terminal.model_copy(
                        update={"id": info.terminal, "facility": info.facility}
                    )
                }
            )
            save_settings(context.paths.config_file, settings)
        facility = settings.terminal.facility
        ledger = context.ledger(create=True)
        try:
            counts = load_dataset(
                ledger,
                dataset,
                facility,
                roles=settings.roles.keys(),
                release_as=settings.terminal.id,
            )
        finally:
            ledger.close()
    except (ConfigError, DatasetError, LedgerError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Loaded {info.name} for {facility} into {context.paths.db_path}: "
        + ", ".join(f"{n} {what}" for what, n in counts.items())
    )


@cli.command()
@click.option("--sku", help="Only this SKU.")
@click.option("--json", "as_json", is_flag=True, help="JSON: {facility, qoh: [...], atp: [...]}.")
@pass_context
def stock(context: Context, sku: str | None, as_json: bool) -> None:
    """Print QOH per location and ATP per product."""
    settings = context.settings()
    ledger = context.ledger()
    try:
        qoh, atp = ledger.stock(sku)
    finally:
        ledger.close()
    if as_json:
        echo_json(
            {
                "facility": settings.terminal.facility,
                "qoh": [{"sku": s, "location": loc, "qoh": n} for s, loc, n in qoh],
                "atp": [{"sku": s, "atp": n} for s, n in atp],
            }
        )
        return
    if sku and not qoh and not atp:
        raise click.ClickException(
            f"No stock recorded for {sku}: check the SKU (`putback stock` lists every one)."
        )
    click.echo(f"{'SKU':<20} {'LOCATION':<12} {'QOH':>6}")
    for s, loc, n in qoh:
        click.echo(f"{s:<20} {loc:<12} {n:>6}")
    click.echo()
    click.echo(f"{'SKU':<20} {'ATP':>6}")
    for s, n in atp:
        click.echo(f"{s:<20} {n:>6}")


@cli.command("ledger")
@click.option("--json", "as_json", is_flag=True, help="JSON: {entries: [...]} in sequence order.")
@click.option("--limit", type=int, default=None, help="Only the last N entries.")
@pass_context
def ledger_cmd(context: Context, as_json: bool, limit: int | None) -> None:
    """Print the ledger entries, oldest first."""
    ledger = context.ledger()
    try:
        entries = ledger.entries()
    finally:
        ledger.close()
    if limit is not None:
        entries = entries[-limit:] if limit > 0 else []
    if as_json:
        echo_json({"entries": [e.model_dump(mode="json") for e in entries]})
        return
    if not entries:
        click.echo("No entries yet.")
    for e in entries:
        changes = " ".join(
            f"{c.sku}@{c.location}{c.qoh:+d}" if c.location else f"{c.sku} ATP{c.atp:+d}"
            for c in e.changes
        )
        click.echo(
            f"{e.seq:>6} {e.created_at.astimezone():%Y-%m-%d %H:%M:%S} {e.operator:<8} "
            f"{e.kind.value:<12} {e.order_id or '-':<10} {changes}"
        )


@cli.group("config")
def config_group() -> None:
    """The configuration: what is in effect, and every setting there is."""


@config_group.command("show")
@pass_context
def config_show(context: Context) -> None:
    """Print the effective configuration as TOML (the token is shown as ********)."""
    settings = context.settings()
    click.echo(
        f"# {context.paths.config_file}"
        + ("" if context.paths.config_file.exists() else " (absent: all defaults)")
    )
    click.echo(settings_to_toml(settings))


@config_group.command("reference")
def config_reference() -> None:
    """Print every setting with its type, default and meaning (Markdown)."""
    click.echo(reference(), nl=False)


@cli.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def backup(context: Context, dest: Path) -> None:
    """Write a consistent copy of the local database to DEST, even while the app runs."""
    ledger = context.ledger()
    try:
        entries = ledger.backup(dest)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        ledger.close()
    click.echo(
        f"Backed up {context.paths.db_path} to {dest}: {wording.entries(entries)}, "
        f"{dest.stat().st_size / 1e6:.1f} MB."
    )


@cli.command()
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_context
def restore(context: Context, source: Path) -> None:
    """Make SOURCE (a backup) this terminal's local database.

    A database already in place is kept beside it under a new name, never overwritten; SOURCE
    itself is never changed (a copy is checked and put in place). Refused while the app or
    the sync service has the database open. Entries the central store applied already are
    answered as duplicates when they are sent again.
    """
    from putback_tui.ledger.restore import restore as restore_ledger

    context.check_files()
    db = context.paths.db_path
    try:
        done = restore_ledger(source, db)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    if done.kept is not None:
        click.echo(f"Kept the previous database as {done.kept}.")
    click.echo(f"Restored {source} to {db}: {wording.entries(done.entries)}.")


@cli.command()
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only exceptions from this day on."
)
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="The per-day counts as CSV.")
@pass_context
def report(context: Context, since: datetime | None, as_json: bool, as_csv: bool) -> None:
    """Exception patterns: per day by kind and reason, top rejected products, ageing, open."""
    if as_json and as_csv:
        raise click.UsageError("Give at most one of --json and --csv.")
    settings = context.settings()
    ledger = context.ledger()
    try:
        with ledger.read() as tx:
            result = build_report(
                tx,
                settings.terminal.facility,
                now=datetime.now(UTC),
                since=since.date() if since else None,
                sla=settings.sla,
            )
    finally:
        ledger.close()
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    if as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["day", "kind", "reason", "orders", "units"])
        for row in result.per_day:
            out.writerow([row.day.isoformat(), row.kind, row.reason or "", row.orders, row.units])
        # The SLA figures follow as a second table, after an empty line.
        out.writerow([])
        out.writerow(SLA_CSV_HEADER)
        for f in result.sla:
            out.writerow([_blank(getattr(f, name)) for name in SLA_CSV_FIELDS])
        return
    click.echo(f"Exceptions at {result.facility}" + (f" since {result.since}" if since else ""))
    click.echo()
    for line in chart_lines(result):
        click.echo(f"  {line}")
    click.echo()
    click.echo(f"  {'day':<10} {'kind':<10} {'reason':<13} {'orders':>6} {'units':>6}")
    for row in result.per_day:
        click.echo(
            f"  {row.day.isoformat():<10} {row.kind:<10} {row.reason or '-':<13} "
            f"{row.orders:>6} {row.units:>6}"
        )
    click.echo()
    click.echo("Top rejected products:")
    for p in result.top_rejected or []:
        click.echo(
            f"  {p.sku:<20} {p.units:>4} units in {p.rejections} rejections  {p.description}"
        )
    if not result.top_rejected:
        click.echo("  none")
    a = result.ageing
    click.echo()
    if a.cleared:
        click.echo(
            f"Ageing: {a.cleared} cleared, median {a.median_minutes} min, p90 {a.p90_minutes} min"
        )
    else:
        click.echo("Ageing: nothing cleared yet")
    click.echo()
    click.echo(
        f"SLA ({'since ' + str(result.since) if since else 'all time'}): "
        "first response and cycle time in minutes, median / p90"
    )
    click.echo(
        f"  {'kind':<10} {'orders':>6} {'first response':>15} {'cycle time':>15} "
        f"{'breached':>8} {'overdue now':>11}"
    )
    for f in result.sla:
        first = _pair(f.first_response_median_minutes, f.first_response_p90_minutes)
        cycle = _pair(f.cycle_median_minutes, f.cycle_p90_minutes)
        click.echo(
            f"  {f.kind:<10} {f.orders:>6} {first:>15} {cycle:>15} {f.breached:>8} "
            f"{f.overdue_now:>11}"
        )
    click.echo(f"Still open: {len(result.open)}")
    for o in result.open:
        click.echo(
            f"  {o.order_id:<12} {o.kind:<10} since {o.since:%Y-%m-%d %H:%M} "
            f"({o.age_minutes / 60:.1f} h), {o.units_left} left"
        )


SLA_CSV_FIELDS = (
    "kind",
    "orders",
    "first_response_median_minutes",
    "first_response_p90_minutes",
    "cycle_median_minutes",
    "cycle_p90_minutes",
    "breached",
    "overdue_now",
)
SLA_CSV_HEADER = [
    "kind",
    "orders",
    "first_response_median_min",
    "first_response_p90_min",
    "cycle_median_min",
    "cycle_p90_min",
    "breached",
    "overdue_now",
]


def _pair(median: float | None, p90: float | None) -> str:
    return f"{_blank(median) or '-'} / {_blank(p90) or '-'}"


def _blank(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


@cli.command("logs")
@click.option("-n", "lines", type=int, default=50, show_default=True, help="How many lines.")
@pass_context
def logs_cmd(context: Context, lines: int) -> None:
    """Show the end of the log file (JSON lines; tokens are never written)."""
    found = logs.tail(context.paths.log_dir, lines)
    if not found:
        click.echo(f"No log yet at {context.paths.log_dir / logs.LOG_NAME}.")
    for line in found:
        click.echo(line)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON: {ok, counts, checks: [...]}.")
@pass_context
def doctor(context: Context, as_json: bool) -> None:
    """Check configuration, database, central store, scanners and terminal; say how to fix.

    Exits 1 when a check failed (warnings do not count).
    """
    from putback_tui import doctor as checks

    results = checks.run_checks(context.paths)
    width = min(shutil.get_terminal_size((100, 24)).columns, 120) - 1
    click.echo(checks.render_json(results) if as_json else checks.render_text(results, width))
    sys.exit(checks.exit_code(results))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="putback")


if __name__ == "__main__":
    main()
