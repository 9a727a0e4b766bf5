"""``putback central``: serve the central store, import upstream data, enrol terminals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from putback_tui.central.storage import CentralStore

DB_ENV = "PUTBACK_CENTRAL_DB"

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


@click.group("central")
def central() -> None:
    """Run and administer the central store (SQLite or PostgreSQL)."""


@central.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes. Batches are validated in parallel, one per process; their writes "
    "still take turns. About one per core.",
)
def serve(db_url: str, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (OpenAPI at /docs and /openapi.json) until interrupted."""
    import os

    import uvicorn

    from putback_tui.central.app import create_app, tune_garbage_collector

    with _store(db_url) as store:  # migrates once, before any worker starts
        click.echo(
            f"central store ({store.kind}) on http://{host}:{port}, {workers} worker(s)", err=True
        )
        if workers == 1:
            app = create_app(store)
            tune_garbage_collector()
            uvicorn.run(app, host=host, port=port, log_level="info")
            return
    # Each worker process opens its own store, named by the environment it inherits.
    os.environ[DB_ENV] = db_url
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
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def import_cmd(db_url: str, path: Path) -> None:
    """Load orders, products, locations, operators and stock from PATH.

    PATH is a data-set directory of CSV files (like data/demo) or a JSON document with lists
    "products", "locations", "operators", "orders", "stock" and "atp". Existing rows are
    replaced; order lines keep the progress terminals recorded.
    """
    from putback_tui.central.imports import import_path
    from putback_tui.dataset import DatasetError

    with _store(db_url) as store:
        try:
            counts = import_path(store, path)
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


def _add(db_url: str, name: str, facility: str | None, replace: bool) -> None:
    from putback_tui.central.storage import StoreError
    from putback_tui.sync.wire import ClientKind

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
