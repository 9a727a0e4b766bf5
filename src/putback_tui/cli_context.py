"""What every ``putback`` sub-command shares: the :class:`Context` and the root command group.

The sub-command modules (``sync/cli.py``, ``barcode_cli.py``, ``scanners/cli.py``,
``central/cli.py``) import from here, never from :mod:`putback_tui.cli`, and ``cli.py`` names
them in :class:`RootGroup`'s table, imported only when a command of theirs is run (or help
lists them): no import cycle, and ``putback stock`` never loads FastAPI or psycopg.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from putback_tui import logs
from putback_tui.config import (
    ConfigError,
    Paths,
    Settings,
    load_settings,
    path_problems,
    resolve_paths,
)
from putback_tui.ledger import Ledger, LedgerError


@dataclass
class Context:
    """What every subcommand gets: where the files are and the validated settings."""

    paths: Paths
    home: Path | None = None
    config_file: Path | None = None

    def relocate(self, *, home: Path | None = None, config_file: Path | None = None) -> None:
        """Apply ``--home`` / ``--config`` given after the sub-command (they win)."""
        self.home = home or self.home
        self.config_file = config_file or self.config_file
        self.paths = resolve_paths(self.home, self.config_file)

    def check_files(self) -> None:
        """Refuse to go on where another user could swap this terminal's files.

        Raises:
            click.ClickException: the first problem, with its fix.
        """
        problems = path_problems(self.paths)
        if problems:
            more = f" ({len(problems) - 1} more: `putback doctor` lists them)" * bool(problems[1:])
            raise click.ClickException(f"Refusing to go on: {problems[0]}{more}")

    def settings(self, *, must_exist: bool | None = None) -> Settings:
        """Load the settings (and start the log file), or exit with the configuration error.

        Args:
            must_exist: a missing file is an error; by default when the file was named.
        """
        self.check_files()
        required = self.paths.config_named if must_exist is None else must_exist
        try:
            settings = load_settings(self.paths.config_file, must_exist=required)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        token = settings.sync.token
        logs.configure(self.paths.log_dir, secrets=[token.get_secret_value()] if token else [])
        return settings

    def ledger(self, *, create: bool = False) -> Ledger:
        """Open the local ledger, or exit with a clear message."""
        self.check_files()
        try:
            return Ledger(self.paths.db_path, create=create)
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from exc


pass_context = click.make_pass_decorator(Context)
"""Hands a command the root group's :class:`Context` as its first argument."""


def current_context() -> Context:
    """The root group's :class:`Context`; one with the default locations outside ``putback``."""
    context = click.get_current_context(silent=True)
    found = context.find_object(Context) if context is not None else None
    return found if found is not None else Context(resolve_paths())


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (non-ASCII kept as it is)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class RootGroup(click.Group):
    """The ``putback`` group: lazily imported sub-commands, ``--home``/``--config`` after any.

    Args:
        lazy: sub-command name -> a function that imports and returns it; called the first time
            the command is looked up.
        no_location: sub-commands that take no ``--home``/``--config`` of their own (the central
            store's use no terminal home).
    """

    def __init__(
        self,
        *args: Any,
        lazy: Mapping[str, Callable[[], click.Command]] | None = None,
        no_location: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.no_location = no_location
        self._prepared: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every sub-command's name, the lazy ones included, sorted."""
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The sub-command, imported now if it is a lazy one, with the location options."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name](), cmd_name)
        command = self.commands.get(cmd_name)
        if command is not None and cmd_name not in self._prepared:
            self._prepared.add(cmd_name)
            if cmd_name not in self.no_location:
                accept_location_options(command)
        return command


def _relocate(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    context = ctx.find_object(Context)
    if value is None or context is None:
        return
    if param.name == "home":
        context.relocate(home=value)
    else:
        context.relocate(config_file=value)


def accept_location_options(command: click.Command) -> None:
    """Let a terminal command (every command of a group) take ``--home`` / ``--config`` too.

    ``putback stock --home DIR`` then means what ``putback --home DIR stock`` does (given after
    the command, they win).
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_location_options(sub)
        return
    command.params += [
        click.Option(
            ["--home"],
            type=click.Path(file_okay=False, path_type=Path),
            expose_value=False,
            callback=_relocate,
            help="Keep config, data and logs under this directory (as before the command).",
        ),
        click.Option(
            ["--config"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_relocate,
            help="Use this configuration file (as before the command).",
        ),
    ]
