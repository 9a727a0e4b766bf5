"""The ``putback`` command: the app by default, and subcommands for set-up and inspection."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from putback_tui.config import ConfigError, Paths, Settings, load_settings, resolve_paths, save_settings
from putback_tui.dataset import DEMO_DIR, Dataset, DatasetError
from putback_tui.ledger import Ledger, LedgerError


@dataclass
class Context:
    """What every subcommand gets: where the files are and the validated settings."""

    paths: Paths

    def settings(self) -> Settings:
        """Load the settings, or exit with the configuration error."""
        try:
            return load_settings(self.paths.config_file)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc

    def ledger(self, *, create: bool = False) -> Ledger:
        """Open the local ledger, or exit with a clear message."""
        try:
            return Ledger(self.paths.db_path, create=create)
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from exc


pass_context = click.make_pass_decorator(Context)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.version_option(package_name="putback-tui")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, config_file: Path | None) -> None:
    """Clear exception orders and put stock back, with a scanner in hand.

    With no command, starts the terminal app.
    """
    ctx.obj = Context(resolve_paths(home, config_file))
    if ctx.invoked_subcommand is None:
        ctx.invoke(run_app)


@cli.command("app")
@pass_context
def run_app(context: Context) -> None:
    """Start the terminal app (the default command)."""
    from putback_tui.tui.launch import launch

    sys.exit(launch(context.paths, context.settings()))


@cli.command()
@click.option("--demo", is_flag=True, help="Load the bundled demo data set.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Load a data set directory (see data/demo for the format).",
)
@pass_context
def init(context: Context, demo: bool, data_dir: Path | None) -> None:
    """Set up the local store from a data set (only into a ledger with no entries)."""
    if demo == (data_dir is not None):
        raise click.UsageError("Give exactly one of --demo or --data DIR.")
    dataset = Dataset(DEMO_DIR if demo else data_dir)  # type: ignore[arg-type]
    try:
        info = dataset.info
        settings = context.settings()
        if not context.paths.config_file.exists():
            settings = settings.model_copy(
                update={"terminal": settings.terminal.model_copy(
                    update={"id": info.terminal, "facility": info.facility}
                )}
            )
            save_settings(context.paths.config_file, settings)
        facility = settings.terminal.facility
        ledger = context.ledger(create=True)
        counts = load_dataset(ledger, dataset, facility)
    except (DatasetError, LedgerError) as exc:
        raise click.ClickException(str(exc)) from exc
    ledger.close()
    click.echo(
        f"Loaded {info.name} for {facility} into {context.paths.db_path}: "
        + ", ".join(f"{n} {what}" for what, n in counts.items())
    )


def load_dataset(ledger: Ledger, dataset: Dataset, facility: str) -> dict[str, int]:
    """Load a data set's reference data and the facility's stock into a new ledger.

    Raises:
        DatasetError: a bad file or row. LedgerError: the ledger already has entries.
    """
    with ledger.write() as tx:
        counts = {
            "products": tx.upsert_products(dataset.products()),
            "locations": tx.upsert_locations(dataset.locations()),
            "operators": tx.upsert_operators(dataset.operators()),
            "orders": tx.upsert_orders(o for o in dataset.orders() if o.facility == facility),
        }
        tx.set_baseline(
            ((sku, loc, qoh) for fac, sku, loc, qoh in dataset.stock() if fac == facility),
            ((sku, atp) for fac, sku, atp in dataset.atp() if fac == facility),
        )
        tx.set_meta("facility", facility)
        tx.set_meta("dataset", dataset.info.name)
    return counts


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
        _echo_json(
            {
                "facility": settings.terminal.facility,
                "qoh": [{"sku": s, "location": loc, "qoh": n} for s, loc, n in qoh],
                "atp": [{"sku": s, "atp": n} for s, n in atp],
            }
        )
        return
    if sku and not qoh and not atp:
        raise click.ClickException(f"No stock recorded for {sku}.")
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
        _echo_json({"entries": [e.model_dump(mode="json") for e in entries]})
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


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="putback")


from putback_tui.barcode_cli import barcode  # noqa: E402 - registered last, beside its peers

cli.add_command(barcode)
