"""The status bar: who, where, which scanner, sync state, entries waiting, the time."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from putback_tui.tui.state import Status

SEP = ("  │  ", "dim")


def describe_sync(status: Status) -> tuple[str, str]:
    """The sync part of the bar and its style."""
    sync = status.sync
    if not sync.configured:
        return "offline (no central store configured)", "bold"
    if sync.failing:
        # The central store answers, but cannot take this terminal's entries (or sends what
        # the terminal refuses): "offline" would send someone to check the network.
        return f"SYNC FAILING: {sync.failing}", "bold red"
    if sync.online:
        when = f", last sync {sync.last_success:%H:%M:%S}" if sync.last_success else ""
        return f"online{when}", "bold green"
    problem = f": {sync.last_error}" if sync.last_error else ""
    return f"offline{problem}", "bold yellow"


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
        line2 = Text(no_wrap=True, overflow="ellipsis")
        line2.append(*describe_sync(status))
        line2.append(*SEP)
        waiting = status.sync.waiting
        line2.append(f"not sent: {waiting}", style="bold yellow" if waiting else "")
        if status.sync.refused:
            line2.append(*SEP)
            line2.append(f"refused by central: {status.sync.refused}", style="bold red")
        if status.double_reads:
            line2.append(*SEP)
            line2.append(f"double reads ignored: {status.double_reads}")
        if status.busy:
            line2.append(*SEP)
            line2.append("saving…", style="bold reverse")
        if status.operator is not None and status.worklist is not None:
            waiting, overdue = status.worklist
            line2.append(*SEP)
            line2.append(f"{waiting} waiting", style="bold" if waiting else "")
            if overdue:
                line2.append(f", {overdue} overdue", style="bold red")
        clock = f"{status.now:%H:%M}"
        width = self.content_size.width
        if not width or line2.cell_len + len(SEP[0]) + len(clock) <= width:
            # The clock gives way first: at 80 columns the counts before it must stay whole.
            line2.append(*SEP)
            line2.append(clock)
        # A Group keeps each line's no_wrap: a long scanner message is cut, never wrapped
        # into the sync line.
        self.update(Group(line1, line2), layout=False)
