"""What every dashboard screen shares: a title, the status line, fetching in a worker, a footer."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from putback_tui.sync.client import CentralRefused, CentralUnavailable, SyncError

if TYPE_CHECKING:
    from putback_tui.dashboard.app import Connection, DashboardApp
    from putback_tui.dashboard.client import BacklogClient

T = TypeVar("T")


def clock_time(at: datetime) -> str:
    """A moment as this machine's local time of day, ``14:05:03``."""
    return f"{at.astimezone():%H:%M:%S}"


class StatusLine(Static):
    """When the figures were last fetched, and whether the central store answers."""

    def show(self, connection: Connection, figures_from: datetime | None) -> None:
        """Say where the connection stands; a red banner while the central store is down.

        Args:
            connection: the app's connection state.
            figures_from: when the figures on this screen were fetched (None: none yet).
        """
        every = f"refresh every {connection.refresh_s:g} s"
        self.set_classes("ok" if connection.answering else "waiting")
        if connection.answering is None:
            self.update(Text(f"Asking the central store at {connection.url} …  ({every})"))
            return
        if connection.answering:
            assert connection.last_ok is not None
            self.update(
                Text(
                    f"● central store answering · updated {clock_time(connection.last_ok)} · "
                    f"{every} · F5 now"
                )
            )
            return
        self.set_classes("down")
        assert connection.down_since is not None
        since = clock_time(connection.down_since)
        if connection.refused:
            text = Text(f"✖ The central store refuses this view (since {since}): ")
        else:
            text = Text(f"✖ CENTRAL STORE NOT ANSWERING since {since}: ")
        text.append(connection.problem or "no answer")
        if figures_from is not None:
            text.append(f". STALE: the figures below are from {clock_time(figures_from)}")
        else:
            text.append(". No figures yet")
        text.append(f". Retrying ({every}).")
        self.update(text)


class DashboardScreen(Screen[None], Generic[T]):
    """A screen whose figures come from one API call, fetched again on every refresh."""

    title_text: str = "putback · network backlog"
    """The line at the top."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched_at: datetime | None = None
        """When the figures on screen were fetched (None: none yet)."""
        self._covered = False

    @property
    def has_figures(self) -> bool:
        """Whether the screen shows figures from an answer (fresh or stale)."""
        return self.fetched_at is not None

    @property
    def dashboard(self) -> DashboardApp:
        """The app, typed."""
        return cast("DashboardApp", self.app)

    def compose(self) -> ComposeResult:
        """Title, status line, the screen's own body, footer."""
        yield Static(Text(self.title_text), id="title", markup=False)
        yield StatusLine(markup=False)
        with Vertical(id="body"):
            yield from self.body()
        yield Footer()

    @abstractmethod
    def body(self) -> ComposeResult:
        """The screen's own widgets."""

    @abstractmethod
    def fetch(self, client: BacklogClient) -> T:
        """Call the API (in a worker thread): what :meth:`show` shows.

        Raises:
            SyncError: the call failed (shown on the status line; the figures stay).
        """

    @abstractmethod
    def show(self, data: T) -> None:
        """Put fetched figures on screen (on the UI thread)."""

    def on_mount(self) -> None:
        """Show the connection as it stands, then fetch (Textual calls a subclass's too)."""
        self.query_one(StatusLine).show(self.dashboard.connection, None)
        self.reload()

    def on_screen_suspend(self) -> None:
        """Another screen went on top (a drill-down, the help)."""
        self._covered = True

    def on_screen_resume(self) -> None:
        """Back in front (Esc from a drill-down): fetch again at once.

        Not on the first show: mounting fetched already.
        """
        if self._covered:
            self._covered = False
            self.reload()

    def reload(self) -> None:
        """Fetch again in a worker; a fetch of this screen still running is cancelled."""
        self.run_worker(
            self._fetch_in_thread,
            thread=True,
            group=f"fetch-{id(self)}",
            exclusive=True,
            exit_on_error=False,
        )

    def _fetch_in_thread(self) -> None:
        app = self.dashboard
        worker = get_current_worker()
        try:
            data = self.fetch(app.client)
        except CentralUnavailable as exc:
            # "http://…:8700 unreachable: …": the address is on screen already.
            app.call_from_thread(self._failed, str(exc).removeprefix(f"{app.client.base_url} "))
        except CentralRefused as exc:
            app.call_from_thread(self._failed, _refusal(exc), True)
        except SyncError as exc:
            app.call_from_thread(self._failed, str(exc), True)
        else:
            if not worker.is_cancelled:  # a newer fetch replaced this one: its answer wins
                app.call_from_thread(self._fetched, data)

    def _fetched(self, data: T) -> None:
        if not self.is_attached:  # left (Esc) while the answer was on its way
            return
        connection = self.dashboard.answered()
        self.show(data)
        self.fetched_at = connection.last_ok
        self.remove_class("stale")
        self.query_one(StatusLine).show(connection, None)

    def _failed(self, problem: str, refused: bool = False) -> None:
        if not self.is_attached:
            return
        connection = self.dashboard.failed(problem, refused=refused)
        self.set_class(self.fetched_at is not None, "stale")
        self.query_one(StatusLine).show(connection, self.fetched_at)

    def action_back(self) -> None:
        """Back to the screen below (the network view has none)."""
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()


def _refusal(exc: CentralRefused) -> str:
    """A refused call in words that say what to do."""
    if exc.status == 401:
        return "the token is not known there (make one with putback central add-viewer)"
    if exc.status == 403:
        return f"this viewer may not see that ({exc})"
    if exc.status == 404:
        return f"not found there ({exc})"
    return str(exc)


def cursor_key(table: DataTable[object]) -> str | None:
    """The key of the row under a table's cursor (None: the table is empty)."""
    if table.row_count == 0:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
