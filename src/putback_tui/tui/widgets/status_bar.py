"""The status bar: who, where, which scanner, sync state, entries waiting, the time."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from putback_tui.tui.state import Status

SEP = ("  │  ", "dim")
MIN_SYNC = len("offline…")
"""The fewest cells the sync part is cut to: its first word stays."""


def describe_sync(status: Status, room: int | None = None) -> tuple[str, str]:
    """The sync part of the bar and its style, in at most ``room`` cells when given.

    Cut to fit, it keeps its first words: "online" without the last sync's time, "offline: "
    or "SYNC FAILING: " with as much of the reason as fits, ending in "…".
    """
    text, style, short = _sync(status)
    if room is None or cell_len(text) <= room:
        return text, style
    return short or set_cell_size(text, max(room, MIN_SYNC) - 1) + "…", style


def _sync(status: Status) -> tuple[str, str, str | None]:
    """The sync part's text, its style, and what it says when it must be short (else cut)."""
    sync = status.sync
    if not sync.configured:
        return "offline (no central store configured)", "bold", None
    if sync.failing:
        # The central store answers, but cannot take this terminal's entries (or sends what
        # the terminal refuses): "offline" would send someone to check the network.
        return f"SYNC FAILING: {sync.failing}", "bold red", None
    if sync.online:
        when = f", last sync {sync.last_success:%H:%M:%S}" if sync.last_success else ""
        return f"online{when}", "bold green", "online"
    problem = f": {sync.last_error}" if sync.last_error else ""
    return f"offline{problem}", "bold yellow", None


class StatusBar(Static):
    """Two lines: operator, facility, terminal, scanners; then sync, orders waiting, the time.

    The orders waiting for a put-back (and how many are overdue) show while someone is signed
    in, on every screen: the station's queue is news in the middle of a put-back too.
    """

    DEFAULT_CSS = """
    StatusBar {
        height: 2;
        padding: 0 1;
        background: $boost;
        color: $text;
    }
    """
    """Two lines so everything fits at 80 columns."""

    status: reactive[Status | None] = reactive(None, layout=False)
    """The facts shown."""

    def __init__(self) -> None:
        """Make the bar (empty until its first ``status``)."""
        super().__init__("", markup=False)

    def on_resize(self) -> None:
        """A new width: the clock may fit now, or no longer."""
        self.watch_status(self.status)

    def watch_status(self, status: Status | None) -> None:
        """Rewrite both lines."""
        if status is None:
            return
        line1 = Text(no_wrap=True, overflow="ellipsis")
        line1.append(status.operator or "signed out", style="bold")
        line1.append(*SEP)
        line1.append(f"{status.facility} · {status.terminal}")
        for scanner in status.scanners:
            line1.append(*SEP)
            style = "bold" if scanner.ok else "bold red"
            text = (
                "scanner: keyboard"
                if scanner.name == "keyboard"
                else f"scanner {scanner.name}: {scanner.status}"
            )
            if scanner.message and not scanner.ok:
                text += f" ({scanner.message})"
            line1.append(text, style=style)
        # The sync part, then the counts; the counts stay whole: the sync part's detail (a
        # URL and an error) is cut to the room they leave, and the clock gives way first.
        counts = Text()
        counts.append(*SEP)
        waiting = status.sync.waiting
        counts.append(f"not sent: {waiting}", style="bold yellow" if waiting else "")
        if status.sync.refused:
            counts.append(*SEP)
            counts.append(f"refused by central: {status.sync.refused}", style="bold red")
        if status.double_reads:
            counts.append(*SEP)
            counts.append(f"double reads ignored: {status.double_reads}")
        if status.busy:
            counts.append(*SEP)
            counts.append("saving…", style="bold reverse")
        if status.operator is not None and status.worklist is not None:
            waiting, overdue = status.worklist
            counts.append(*SEP)
            counts.append(f"{waiting} waiting", style="bold" if waiting else "")
            if overdue:
                counts.append(f", {overdue} overdue", style="bold red")
        width = self.content_size.width
        line2 = Text(no_wrap=True, overflow="ellipsis")
        line2.append(*describe_sync(status, width - counts.cell_len if width else None))
        line2.append_text(counts)
        clock = f"{status.now:%H:%M}"
        if not width or line2.cell_len + len(SEP[0]) + len(clock) <= width:
            line2.append(*SEP)
            line2.append(clock)
        # A Group keeps each line's no_wrap: a long scanner message is cut, never wrapped
        # into the sync line.
        self.update(Group(line1, line2), layout=False)
