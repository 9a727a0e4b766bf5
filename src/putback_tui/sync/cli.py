"""``putback sync`` (a headless sync round, or rounds until interrupted) and ``putback connect``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from putback_tui.cli_context import Context

if TYPE_CHECKING:
    from putback_tui.sync.worker import SyncState


def _context() -> Context:
    # The root group put a Context in ctx.obj.
    obj = click.get_current_context().find_root().obj
    assert isinstance(obj, Context)
    return obj


def _describe(state: SyncState) -> str:
    from putback_tui.sync.worker import last_success_text

    parts = [
        "online" if state.online else "offline",
        f"{state.waiting} waiting",
        f"{state.refused} refused",
        last_success_text(state.last_success),
    ]
    if state.last_error:
        parts.append(state.last_error)
    return ", ".join(parts)


@click.command("sync")
@click.option("--once", is_flag=True, help="One round (send, then pull), then exit.")
def sync(once: bool) -> None:
    """Send unsent entries to the central store and pull changes, without the app.

    Without --once, runs rounds until interrupted (putback-sync.service), printing the state
    whenever it changes. Exits non-zero when a --once round did not complete (the entries stay
    queued).
    """
    from putback_tui.sync.worker import SyncWorker

    context = _context()
    settings = context.settings()
    context.ledger().close()  # a clear message if there is no ledger yet
    shown: list[tuple[object, ...]] = []

    def report(state: SyncState) -> None:
        # Only changes: a service runs this for months, and a line per round floods the journal.
        key = (state.online, state.waiting, state.refused, state.last_error)
        if not shown or shown[-1] != key:
            shown[:] = [key]
            click.echo(_describe(state))

    worker = SyncWorker(
        context.paths.db_path,
        settings.sync,
        on_state=None if once else report,
        release_as=(settings.terminal.id, settings.terminal.facility),
    )
    try:
        if once:
            state = worker.run_once()
            if state.last_error:
                # A failure goes to stderr like every other error; the entries stay queued.
                click.echo(
                    f"Error: {_describe(state)}. The entries stay queued; `putback doctor` "
                    "checks the central store's address and token.",
                    err=True,
                )
                raise click.exceptions.Exit(1)
            click.echo(_describe(state))
            return
        worker.start()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()


@click.command("connect")
@click.argument("url")
@click.option("--token", required=True, help="The token 'putback central add-terminal' printed.")
def connect(url: str, token: str) -> None:
    """Enrol this terminal with the central store at URL.

    Checks the token with the central store first (it must be this terminal's, of this
    facility), then writes URL and token into the configuration file (owner-only, 0600).
    """
    from pydantic import SecretStr, ValidationError

    from putback_tui.config import ConfigError, SyncSettings, save_settings
    from putback_tui.sync.client import SyncClient, SyncError
    from putback_tui.wire import ClientKind

    context = _context()
    settings = context.settings()
    try:
        SyncSettings(url=url)
    except ValidationError as exc:
        raise click.BadParameter(str(exc.errors()[0]["msg"]), param_hint="URL") from exc
    try:
        with SyncClient(url, token) as client:
            who = client.whoami()
    except SyncError as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    terminal = settings.terminal
    if who.kind is not ClientKind.TERMINAL:
        raise click.ClickException(
            f"That token belongs to {who.kind.value} {who.name}, not a terminal: use the token "
            "'putback central add-terminal' printed for this terminal; nothing was changed."
        )
    if (who.name, who.facility) != (terminal.id, terminal.facility):
        raise click.ClickException(
            f"That token is for terminal {who.name} at {who.facility}, but this terminal is "
            f"{terminal.id} at {terminal.facility}: use this terminal's token, or correct "
            "[terminal] in the configuration; nothing was changed."
        )
    updated = settings.model_copy(
        update={"sync": settings.sync.model_copy(update={"url": url, "token": SecretStr(token)})}
    )
    try:
        save_settings(context.paths.config_file, updated)
    except ConfigError as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    click.echo(f"Connected {terminal.id} ({terminal.facility}) to {url}.")
