"""``putback central``: serve the central store, import upstream data, enrol terminals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from putback_tui.central.env import DB_ENV, MAX_STOCK_ENV, SLA_ENV
from putback_tui.dataset_cli import as_of_moment, as_of_option
from putback_tui.domain import wording
from putback_tui.domain.wording import plural

if TYPE_CHECKING:
    from putback_tui.central.storage import CentralStore


db_option = click.option(
    "--db",
    "db_url",
    envvar=DB_ENV,
    required=True,
    metavar="URL",
    help="A SQLite file (path or sqlite:///path) or postgresql://... (env: PUTBACK_CENTRAL_DB).",
)


@contextmanager
def _store(db_url: str) -> Iterator[CentralStore]:
    # Imported here: `putback` (the terminal app) should not pay for psycopg at start-up.
    from putback_tui.central.storage import StoreError, open_store

    try:
        store = open_store(db_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield store
    finally:
        store.close()


CLIENT_COMMANDS = frozenset({"dashboard"})
"""Sub-commands that are clients of the HTTP API (added by putback_tui.cli): they run without
the central extra, on a machine that only watches."""


@click.group("central")
@click.pass_context
def central(ctx: click.Context) -> None:
    """Run and administer the central store (SQLite or PostgreSQL), or watch it (dashboard)."""
    from putback_tui.extras import MissingExtraError, require_extra

    if ctx.invoked_subcommand in CLIENT_COMMANDS:
        return
    try:
        require_extra("central")
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from exc


@central.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes. Batches are validated in parallel, one per process; on PostgreSQL "
    "writes of different facilities proceed in parallel too. About one per core.",
)
@click.option(
    "--max-stock",
    default=10_000_000,  # domain.derive.DEFAULT_LIMITS, written out as --max-quantity's
    show_default=True,
    envvar=MAX_STOCK_ENV,
    type=click.IntRange(1, 10**12),
    help="Cap on every QOH and ATP figure: an entry that would take one above it is refused.",
)
# 10,000 below is domain.bounds.MAX_QUANTITY, written out: importing the domain here would load
# pydantic for every `putback` command.
@click.option(
    "--max-quantity",
    envvar="PUTBACK_CENTRAL_MAX_QUANTITY",
    default=10_000,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="The most units one put-back, rejection or move may be about "
    "(env: PUTBACK_CENTRAL_MAX_QUANTITY).",
)
@click.option(
    "--max-ahead",
    envvar="PUTBACK_CENTRAL_MAX_AHEAD_S",
    default=86400.0,
    show_default=True,
    type=click.FloatRange(0, 366 * 86400),
    metavar="SECONDS",
    help="How far ahead of this server's clock an entry's time may be "
    "(env: PUTBACK_CENTRAL_MAX_AHEAD_S).",
)
@click.option(
    "--max-age",
    envvar="PUTBACK_CENTRAL_MAX_AGE_DAYS",
    default=366.0,
    show_default=True,
    type=click.FloatRange(0, 36600),
    metavar="DAYS",
    help="How far behind this server's clock an entry's time may be "
    "(env: PUTBACK_CENTRAL_MAX_AGE_DAYS).",
)
@click.option(
    "--sla-config",
    envvar=SLA_ENV,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A TOML file whose [sla] and [priority] sections the backlog judges waiting orders by "
    "(a terminal's config.toml will do; env: PUTBACK_CENTRAL_SLA). Default: the built-in ones.",
)
def serve(
    db_url: str,
    host: str,
    port: int,
    workers: int,
    max_quantity: int,
    max_ahead: float,
    max_age: float,
    max_stock: int,
    sla_config: Path | None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs and /openapi.json) until interrupted.

    Entries out of the limits (--max-quantity, --max-ahead, --max-age) are answered 422 naming
    the field, and nothing of their batch is applied.
    """
    import os
    from datetime import timedelta

    import uvicorn

    from putback_tui.central.app import create_app, tune_garbage_collector
    from putback_tui.central.limits import CentralLimits
    from putback_tui.central.sla_config import SlaConfigError, load_sla_config
    from putback_tui.domain.derive import Limits

    try:
        sla, priority = load_sla_config(sla_config)
    except SlaConfigError as exc:
        raise click.ClickException(str(exc)) from None

    limits = CentralLimits(
        max_quantity=max_quantity,
        max_ahead=timedelta(seconds=max_ahead),
        max_age=timedelta(days=max_age),
    )

    os.environ[MAX_STOCK_ENV] = str(max_stock)  # for worker processes, as DB_ENV below
    with _store(db_url) as store:  # migrates once, before any worker starts
        store.limits = Limits(max_stock=max_stock)
        store.sla, store.priority = sla, priority
        click.echo(
            f"central store ({store.kind}) on http://{host}:{port}, {plural(workers, 'worker')}",
            err=True,
        )
        if workers == 1:
            app = create_app(store, limits=limits)
            tune_garbage_collector()
            uvicorn.run(app, host=host, port=port, log_level="info")
            return
    # Each worker process opens its own store, named by the environment it inherits.
    os.environ[DB_ENV] = db_url
    if sla_config is not None:
        os.environ[SLA_ENV] = str(sla_config.resolve())
    os.environ.update(limits.environment())
    uvicorn.run(
        "putback_tui.central.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@central.command("import")
@db_option
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="NAME",
    help="A role operators may have besides operator and supervisor (the sites' [roles]); "
    "repeat for more.",
)
@click.option("--demo", is_flag=True, help="Import the demo data set that comes with putback.")
@as_of_option
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
def import_cmd(
    db_url: str, roles: tuple[str, ...], demo: bool, as_of: str | None, path: Path | None
) -> None:
    """Load orders, products, locations, operators and stock from PATH (or --demo).

    PATH is a data-set directory of CSV files (like the demo set) or a JSON document with lists
    "products", "locations", "operators", "orders", "stock" and "atp" (docs/data-format.md).
    Existing rows are replaced; order lines keep the progress terminals recorded.
    """
    from putback_tui.central.imports import import_path
    from putback_tui.dataset import DEMO_DIR, DatasetError
    from putback_tui.domain.permissions import DEFAULT_ROLES

    if demo == (path is not None):
        raise click.UsageError("Give either PATH or --demo.")
    path = path or DEMO_DIR
    with _store(db_url) as store:
        try:
            counts = import_path(
                store, path, roles=[*DEFAULT_ROLES, *roles], as_of=as_of_moment(as_of)
            )
        except DatasetError as exc:
            raise click.ClickException(f"{exc}; nothing was imported") from exc
    click.echo("Imported " + ", ".join(f"{n} {what}" for what, n in counts.items()))


replace_option = click.option(
    "--replace",
    is_flag=True,
    help="NAME is enrolled already: issue a new token; the old one stops working at once.",
)


@central.command("add-terminal")
@db_option
@click.option("--facility", required=True, help="The facility the terminal belongs to.")
@replace_option
@click.argument("name")
def add_terminal(db_url: str, facility: str, replace: bool, name: str) -> None:
    """Enrol terminal NAME and print its token (shown once; only a hash is stored)."""
    _add(db_url, name, facility, replace)


@central.command("add-system")
@db_option
@replace_option
@click.argument("name")
def add_system(db_url: str, replace: bool, name: str) -> None:
    """Enrol an upstream system (OMS, ERP) NAME and print its token (shown once)."""
    _add(db_url, name, None, replace)


@central.command("add-viewer")
@db_option
@click.option(
    "--facility",
    "facilities",
    multiple=True,
    metavar="F",
    help="A facility the viewer may read; repeat for more (none: every facility).",
)
@replace_option
@click.argument("name")
def add_viewer(db_url: str, facilities: tuple[str, ...], replace: bool, name: str) -> None:
    """Enrol a read-only viewer NAME (a dashboard) and print its token (shown once).

    A viewer reads the backlog (GET /v1/backlog), the event feed and order histories of its
    facilities and nothing else: every write, and every other facility, is answered 403.
    """
    from putback_tui.central.storage import StoreError
    from putback_tui.domain.bounds import check_code_length

    for facility in facilities:
        try:
            check_code_length(facility)
        except ValueError as exc:
            raise click.BadParameter(f"{facility!r}: {exc}", param_hint="--facility") from None
    with _store(db_url) as store:
        try:
            token = store.add_viewer(name, list(facilities) or None, replace=replace)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(token)
    scope = ", ".join(sorted(set(facilities))) if facilities else "every facility"
    click.echo(f"Token for viewer {name} ({scope}): it is not stored and is shown only now.",
               err=True)


def _add(db_url: str, name: str, facility: str | None, replace: bool) -> None:
    from putback_tui.central.storage import StoreError
    from putback_tui.wire import ClientKind

    kind = ClientKind.TERMINAL if facility else ClientKind.SYSTEM
    with _store(db_url) as store:
        try:
            token = store.add_client(name, kind, facility, replace=replace)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
    # The token alone on stdout, so scripts can capture it; the advice on stderr.
    click.echo(token)
    click.echo(f"Token for {kind.value} {name}: it is not stored and is shown only now.", err=True)
    if replace:
        click.echo(f"The old token of {name} no longer works: run 'putback connect' on it "
                   "with this one.", err=True)


@central.command()
@db_option
@click.option("--failures", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the most recent ingest failures to list.")
@click.option("--hours", default=24.0, show_default=True, type=click.FloatRange(0),
              help="A failure this recent makes the check fail (exit 1).")
def doctor(db_url: str, failures: int, hours: float) -> None:
    """Check the central store: schema, clients, entries, and batches that failed to apply.

    A failed batch (an unexpected error while applying it, answered 503 and rolled back) is
    listed with its terminal and entry IDs. Also checks that each order's units to put back and
    reserved, kept for the backlog, match its lines. Exits 1 when a failure happened in the last
    --hours, the schema is behind or an order's sums are astray, 0 otherwise.
    """
    from datetime import timedelta

    from putback_tui.central.storage import StoreError
    from putback_tui.domain.models import now_utc

    with _store(db_url) as store:
        try:
            health = store.health(failures=failures)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
    recent = [f for f in health.failures if now_utc() - f.at <= timedelta(hours=hours)]
    astray, astray_ids = health.sums_astray
    ok = health.schema_version >= health.latest_schema and not recent and not astray
    schema_state = "current" if health.schema_version >= health.latest_schema else "BEHIND"
    click.echo(f"database: {health.engine}, schema version {health.schema_version} "
               f"({schema_state}; latest {health.latest_schema})")
    click.echo(f"clients: {len(health.clients)}")
    for name, kind, facility, last_seq in health.clients:
        where = f" at {facility}" if facility else ""
        seq = f", last seq {last_seq}" if kind == "terminal" else ""
        click.echo(f"  {kind} {name}{where}{seq}")
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(health.entries.items()))
    click.echo(f"entries: {counts or 'none yet'}")
    if not health.failures_total:
        click.echo("ingest failures: none")
    else:
        click.echo(f"ingest failures: {health.failures_total}, {len(recent)} in the last "
                   f"{hours:g} hours (newest first)")
        for f in health.failures:
            click.echo(f"  FAIL #{f.failure_id} {f.at:%Y-%m-%d %H:%M:%S} {f.terminal}: "
                       f"{wording.entries(f.entries)}, first "
                       f"{f.entry_ids[0] if f.entry_ids else '-'}: "
                       f"{f.error}")
            click.echo(f"    entry IDs: {' '.join(f.entry_ids)}")
    if astray:
        click.echo(f"order sums: {plural(astray, 'order')} whose units to put back or reserved "
                   f"differ from the sums over their lines (first: {' '.join(astray_ids)}); the "
                   "backlog counts these orders wrongly: report it")
    else:
        click.echo("order sums: every order's units to put back and reserved match its lines")
    if not ok:
        raise SystemExit(1)
