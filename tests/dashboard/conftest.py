"""Fixtures for the dashboard: a real central store on loopback with the demo data, a viewer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from putback_tui.central.app import create_app
from putback_tui.central.imports import import_path
from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import CentralStore, open_store
from putback_tui.dashboard.app import DashboardApp, make_app
from putback_tui.dashboard.screens.base import DashboardScreen, StatusLine
from putback_tui.dataset import DEMO_DIR
from putback_tui.domain.models import Order, OrderLine, OrderStatus
from putback_tui.wire import ClientKind

FROZEN = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
"""The clock of the snapshots (the central store's and the dashboard's): 14:05 on the day the
demo orders became exceptions."""


@dataclass
class Network:
    """A central store with the demo data (facility STORE-01), served on loopback."""

    store: CentralStore
    server: BackgroundServer
    viewer: str
    """A viewer token of every facility."""
    terminals: dict[str, str]
    """Terminal tokens by name (PACK-01, PACK-02 at STORE-01)."""

    def app(self, **kwargs: object) -> DashboardApp:
        """A dashboard on this central store (refreshing every 0.2 s unless told)."""
        kwargs.setdefault("refresh_s", 0.2)
        return make_app(self.server.url, self.viewer, **kwargs)  # type: ignore[arg-type]


def serve_network(tmp_path: Path, clock: Callable[[], datetime] | None = None) -> Network:
    store = open_store(str(tmp_path / "central.sqlite3"))
    import_path(store, DEMO_DIR)
    terminals = {
        name: store.add_client(name, ClientKind.TERMINAL, "STORE-01")
        for name in ("PACK-01", "PACK-02")
    }
    viewer = store.add_viewer("WALL", None)
    app = create_app(store, clock=clock) if clock else create_app(store)
    server = BackgroundServer(app)
    server.start()
    return Network(store, server, viewer, terminals)


def more_orders(net: Network, now: datetime) -> None:
    """Add to the demo: STORE-01 X-2001 cancelled 5 minutes before ``now`` (on time), X-2002
    failed 26 minutes before (due soon); STORE-02 (terminal PACK-21) X-3001 cancelled 40
    minutes before (overdue by the default clocks).
    """
    net.store.add_client("PACK-21", ClientKind.TERMINAL, "STORE-02")

    def order(order_id: str, facility: str, status: OrderStatus, minutes: int, sku: str,
              units: int) -> Order:
        return Order(
            order_id=order_id, facility=facility, status=status,
            status_changed_at=now - timedelta(minutes=minutes),
            lines=(OrderLine(line_no=1, sku=sku, quantity=units, picked=units),),
        )

    net.store.import_data(orders=[
        order("X-2001", "STORE-01", OrderStatus.CANCELLED, 5, "SOCKS-3PK", 1),
        order("X-2002", "STORE-01", OrderStatus.FAILED, 26, "BOTTLE-1L", 2),
        order("X-3001", "STORE-02", OrderStatus.CANCELLED, 40, "MUG-WHT", 1),
    ])


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    """The demo central store on loopback, on the real clock."""
    net = serve_network(tmp_path)
    yield net
    net.server.stop()
    net.store.close()


async def until(pilot: Pilot[None], check: Callable[[], bool], what: str) -> None:
    """Let the app run until ``check()`` holds (a refresh arrived); fail saying ``what``.

    Waits on the app, not on a clock: at most 400 pauses, each one letting workers finish.
    """
    for _ in range(400):
        await pilot.pause(0.05)
        if check():
            return
    raise AssertionError(f"never happened: {what}; the screen says {status(pilot.app)!r}")


def status(app: object) -> str:
    """The status line of the screen in front, as text."""
    assert isinstance(app, DashboardApp)
    return str(front(app).query_one(StatusLine).content)


def front(app: DashboardApp) -> DashboardScreen[object]:
    """The topmost dashboard screen."""
    screen = next(s for s in reversed(app.screen_stack) if isinstance(s, DashboardScreen))
    return screen


def shown(app: DashboardApp) -> Callable[[], bool]:
    """A check: the screen in front shows figures from an answer, laid out.

    Laid out: no table of the screen still has rows whose columns it has not sized (a
    ``DataTable`` sizes them when it is next idle; a snapshot taken before then showed every
    column cut to its heading's width, once in CI).
    """

    def check() -> bool:
        screen = front(app)
        return (
            screen.has_figures
            and app.connection.answering is True
            and not any(t._require_update_dimensions for t in screen.query(DataTable))
        )

    return check


RunBefore = Callable[[Pilot[None]], Awaitable[None]]
