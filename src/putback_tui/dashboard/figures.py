"""How the dashboard words and colours a figure: ages, medians, SLA states, counts.

Pure functions from values to Rich ``Text``: every string that came from the central store
(facility, order, reason, terminal, operator) is put in a ``Text`` as it is, never parsed as
markup, so a scanned ``[red]`` stays the characters it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text
from textual.renderables.sparkline import Sparkline

from putback_tui.domain.sla import duration
from putback_tui.wire import Claim

OVERDUE = "bold white on dark_red"
DUE_SOON = "bold black on yellow"
ON_TIME = "green"
MUTED = "dim"
DASH = "\N{EN DASH}"
"""Shown for "nothing" (no age, no median, no claim)."""


def text(value: object, style: str = "") -> Text:
    """Any value as plain text (no markup read from it)."""
    return Text("" if value is None else str(value), style=style)


def optional(value: object) -> Text:
    """A value, or a dim dash when it is None or empty."""
    if value is None or value == "":
        return Text(DASH, style=MUTED)
    return Text(str(value))


def count(n: int, style_if_any: str = "") -> Text:
    """A count, styled when it is above zero, dim at zero."""
    return Text(str(n), style=style_if_any if n else MUTED)


def age(since: datetime | None, now: datetime) -> Text:
    """How long ago ``since`` was ("12 min", "3 h 05", "2 d 4 h"); a dash when never."""
    if since is None:
        return Text(DASH, style=MUTED)
    return Text(duration((now - since).total_seconds() / 60))


def minutes(value: float | None) -> Text:
    """A median in minutes, worded like an age; a dash when there is nothing to measure."""
    if value is None:
        return Text(DASH, style=MUTED)
    return Text(duration(value))


def sla(state: str, wording: str | None = None) -> Text:
    """An SLA state in its colour: red overdue, yellow due soon, green on time."""
    style = {"overdue": OVERDUE, "due_soon": DUE_SOON}.get(state, ON_TIME)
    return Text(wording or state.replace("_", " "), style=style)


def unsent(n: int | None) -> Text:
    """Entries a terminal reported waiting to send; "not reported" by an older terminal."""
    if n is None:
        return Text("not reported", style=MUTED)
    return count(n, "bold yellow")


def claim(held: Claim | None) -> Text:
    """Who is clearing an order now ("PACK-02 · OP-0002 since 10:31"), a dash when nobody."""
    if held is None:
        return Text(DASH, style=MUTED)
    return Text(
        f"{held.terminal} · {held.operator} since {held.since.astimezone():%H:%M}",
        style="bold cyan",
    )


def worst_style(overdue: int, due_soon: int) -> str:
    """The colour of a facility's name: its worst order's SLA state."""
    if overdue:
        return OVERDUE
    if due_soon:
        return DUE_SOON
    return ON_TIME


def spark(values: Sequence[int], colour: str) -> Sparkline[int]:
    """Textual's sparkline renderable of hourly counts: one cell per hour, one colour.

    The scale is the series' own peak (the totals are shown beside it on the facility view).
    """
    base = Color.parse(colour)
    return Sparkline(list(values) or [0], width=len(values) or 1, min_color=base, max_color=base)


class Stacked:
    """Renderables one above the other, each on its own line(s).

    Rich's ``Group`` would run Textual's sparkline renderables together on one line: they end
    without a line break.
    """

    def __init__(self, *parts: RenderableType) -> None:
        self.parts = parts

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for n, part in enumerate(self.parts):
            if n:
                yield Segment.line()
            yield from console.render(part, options)
