"""The ``--as-of`` option of the commands that load a data set.

``putback init`` and ``putback central import``: one spelling and one parser for both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click

from putback_tui.dataset import parse_as_of
from putback_tui.domain.models import now_utc

F = TypeVar("F", bound=Callable[..., object])


def as_of_option(command: F) -> F:
    """``--as-of now|TIMESTAMP``: load the data set as if its ``as_of`` moment were this one."""
    return click.option(
        "--as-of",
        "as_of",
        metavar="now|TIMESTAMP",
        default=None,
        help="Move the data set's order times so that its as_of moment (dataset.json) is this "
        "one: 'now' for the demo's exceptions to be as old as they were meant to be.",
    )(command)


def as_of_moment(text: str | None, now: Callable[[], datetime] = now_utc) -> datetime | None:
    """The moment ``--as-of`` named, or None when it was left out.

    Raises:
        click.BadParameter: neither ``now`` nor a timestamp with its timezone.
    """
    if text is None:
        return None
    try:
        return parse_as_of(text, now())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from exc
