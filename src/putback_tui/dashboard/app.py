"""The dashboard app: owns the API client and the refresh timer; its screens show what it fetched.

Every few seconds (``refresh_s``) the screen in front fetches its figures in a thread worker and
shows them; the status line on every screen says when that last worked and whether the central
store answers. When it does not, the figures stay on screen, dimmed and marked stale, until an
answer comes again: nothing needs restarting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from putback_tui.dashboard.client import BacklogClient
from putback_tui.dashboard.screens.base import DashboardScreen
from putback_tui.dashboard.screens.help import HelpDialog
from putback_tui.dashboard.screens.network import NetworkScreen
from putback_tui.domain.models import now_utc


@dataclass(frozen=True)
class Connection:
    """What the dashboard knows of the central store right now."""

    url: str
    """The central store's address."""
    refresh_s: float
    """Seconds between refreshes."""
    answering: bool | None = None
    """Whether the last call was answered; None before the first one ends."""
    last_ok: datetime | None = None
    """When an answer last arrived."""
    down_since: datetime | None = None
    """When the calls started failing (None while it answers)."""
    problem: str | None = None
    """Why the last call failed, in words (no token in it)."""
    refused: bool = False
    """The last call was answered, with a refusal (bad token, not this viewer's facility,
    unknown order): the central store is up, but this view cannot be shown."""


class DashboardApp(App[None]):
    """The network dashboard.

    Args:
        client: the backlog API client; the app closes it when it exits.
        refresh_s: seconds between refreshes of the screen in front.
        clock: the wall clock (tests freeze it).
    """

    TITLE = "putback · network backlog"
    ENABLE_COMMAND_PALETTE = False

    CSS = """
    Screen { layout: vertical; }
    #title { height: 1; background: $primary; color: $text; text-style: bold; padding: 0 1; }
    StatusLine { height: auto; padding: 0 1; }
    StatusLine.ok { color: $success; }
    StatusLine.waiting { color: $text-muted; }
    StatusLine.down { background: $error; color: $text; text-style: bold; }
    #body { height: 1fr; }
    .stale #body { opacity: 50%; }
    .figures { height: auto; padding: 0 1; }
    #charts { height: 3; }
    .chart { width: 1fr; height: 3; }
    .chart-label { height: 1; padding: 0 1; }
    Sparkline { height: 2; margin: 0 1; }
    #incoming > .sparkline--max-color { color: $warning; }
    #incoming > .sparkline--min-color { color: $warning 40%; }
    #cleared > .sparkline--max-color { color: $success; }
    #cleared > .sparkline--min-color { color: $success 40%; }
    DataTable { height: 1fr; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    #help-panel { width: 90%; max-width: 110; height: 90%; border: round $primary;
                  background: $surface; padding: 0 1; }
    HelpDialog { align: center middle; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f5", "refresh_now", "Refresh"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    """F1 explains every figure; F5 refreshes at once; Ctrl+Q quits."""

    def __init__(
        self,
        client: BacklogClient,
        *,
        refresh_s: float = 5.0,
        clock: Callable[[], datetime] = now_utc,
        served_by: int | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.connection = Connection(url=client.base_url, refresh_s=refresh_s)
        self.served_by = served_by
        """The ``--web`` server that started this dashboard (None: run from a terminal)."""

    def on_mount(self) -> None:
        """Open the network view and start the refresh timer."""
        self.push_screen(NetworkScreen())
        self.set_interval(self.connection.refresh_s, self.action_refresh_now, name="refresh")
        if self.served_by is not None:
            self.set_interval(1.0, self._quit_without_server, name="served-by")

    def _quit_without_server(self) -> None:
        """Quit once the ``--web`` server that started this dashboard is gone."""
        assert self.served_by is not None
        try:
            os.kill(self.served_by, 0)
        except ProcessLookupError:
            self.exit()
        except PermissionError:
            pass  # alive, and another user's: not this dashboard's server, but not gone either

    def on_unmount(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def action_refresh_now(self) -> None:
        """Fetch the figures of the screen in front (a fetch still running is replaced)."""
        # The topmost dashboard screen: under the help panel too, its figures keep coming.
        for screen in reversed(self.screen_stack):
            if isinstance(screen, DashboardScreen):
                screen.reload()
                return

    def action_help(self) -> None:
        """Open (or close) the help on every figure."""
        if isinstance(self.screen, HelpDialog):
            self.screen.dismiss()
        else:
            self.push_screen(HelpDialog())

    def answered(self) -> Connection:
        """Record that the central store answered just now; the new state."""
        self.connection = replace(
            self.connection,
            answering=True,
            last_ok=self.clock(),
            down_since=None,
            problem=None,
            refused=False,
        )
        return self.connection

    def failed(self, problem: str, *, refused: bool = False) -> Connection:
        """Record that a call failed just now, and why; the new state.

        Args:
            problem: why, in words.
            refused: the central store answered with a refusal (it is up).
        """
        was = self.connection
        since = was.down_since if was.down_since is not None else self.clock()
        self.connection = replace(
            was, answering=False, down_since=since, problem=problem, refused=refused
        )
        return self.connection


def make_app(
    url: str,
    token: str,
    *,
    refresh_s: float = 5.0,
    timeout_s: float = 5.0,
    clock: Callable[[], datetime] = now_utc,
    served_by: int | None = None,
) -> DashboardApp:
    """The dashboard on the central store at ``url``, with a viewer ``token``.

    ``served_by``: the process ID of the ``--web`` server that started it; it quits once that
    process is gone.
    """
    return DashboardApp(
        BacklogClient(url, token, timeout_s=timeout_s),
        refresh_s=refresh_s,
        clock=clock,
        served_by=served_by,
    )
