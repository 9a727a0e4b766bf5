"""Snapshots of every dashboard screen at 80x24 and 120x36, against a real central store.

The central store's clock and the dashboard's are frozen at 14:05 UTC on the day the demo
orders became exceptions; a terminal's put-backs are written at fixed times, so every figure
on screen is the same on every run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from putback_tui.dashboard.app import DashboardApp
from putback_tui.dashboard.screens.facility import FacilityScreen
from putback_tui.dashboard.screens.order import OrderScreen
from putback_tui.ledger import transaction
from putback_tui.sync.worker import SyncWorker
from tests.central_support import MakeTerminal

from .conftest import FROZEN, Network, front, more_orders, serve_network, shown, until

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           make_terminal: MakeTerminal) -> Iterator[Network]:
    """The demo central store at 14:05 with :func:`more_orders`, and PACK-01 having put back
    all of D-1002 at 13:50 and 13:52.
    """
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    net = serve_network(tmp_path, clock=lambda: FROZEN)
    more_orders(net, FROZEN)
    t = make_terminal("PACK-01")
    t.station.sign_in("OP-0001")
    monkeypatch.setattr(transaction, "now_utc", lambda: FROZEN - timedelta(minutes=15))
    view = t.station.open_order("D-1002")
    lines = [line for line in view.order.lines if line.to_put_back]
    for n, line in enumerate(lines):
        monkeypatch.setattr(transaction, "now_utc",
                            lambda n=n: FROZEN - timedelta(minutes=15 - 2 * n))
        t.station.put_back("D-1002", line.line_no, line.sku, "A-01-02", line.to_put_back)
    SyncWorker(t.path, t.sync_settings(net.server.url, net.terminals["PACK-01"])).run_once()
    yield net
    net.server.stop()
    net.store.close()
    monkeypatch.undo()
    time.tzset()


def _app(net: Network) -> DashboardApp:
    # A long refresh: the snapshot is taken between two refreshes, never during one.
    return net.app(refresh_s=3600, clock=lambda: FROZEN)


async def _network(pilot: Pilot[None]) -> None:
    await until(pilot, shown(pilot.app), "the network view")  # type: ignore[arg-type]


async def _facility(pilot: Pilot[None]) -> None:
    await _network(pilot)
    await pilot.press("enter")
    app = pilot.app
    assert isinstance(app, DashboardApp)
    await until(pilot, lambda: isinstance(front(app), FacilityScreen) and shown(app)(),
                "the facility view")


async def _order_view(pilot: Pilot[None]) -> None:
    await _network(pilot)
    app = pilot.app
    assert isinstance(app, DashboardApp)
    app.push_screen(FacilityScreen("STORE-01"))
    await until(pilot, lambda: isinstance(front(app), FacilityScreen) and shown(app)(),
                "the facility view")
    app.push_screen(OrderScreen("D-1002"))
    await until(pilot, lambda: isinstance(front(app), OrderScreen) and shown(app)(),
                "the order view")


class TestDashboard:
    @pytest.mark.parametrize("size", SIZES)
    def test_network_view(self, snap_compare, frozen: Network, size):
        """You should see "central store answering · updated 14:05:00" in green, the totals
        "2 facilities · 6 orders waiting · 4 overdue · 1 due soon · 8 units to put back ·
        oldest 4 h 00", then STORE-01 in red (5 orders, 3 overdue, 1 due soon, 7 units, 1st
        action 4 h 20, cycle 4 h 22) and STORE-02 in red (1 order, overdue after 40 min), each
        row two lines high with two sparklines: in (amber) over cleared (green); the selected
        row's bars are drawn in the cursor's colour.
        """
        assert snap_compare(_app(frozen), terminal_size=size, run_before=_network)

    @pytest.mark.parametrize("size", SIZES)
    def test_facility_view(self, snap_compare, frozen: Network, size):
        """You should see "putback · facility STORE-01", its figures (5 orders waiting, 7 units,
        3 overdue, 1 due soon, median 1st action 4 h 20 and cycle 4 h 22 from D-1002), the two
        24-hour charts "In, 24 h: 6 (peak 2/h)" (amber) and "Cleared, 24 h: 1 (peak 1/h)"
        (green), and the waiting orders most urgent first: D-1003, D-1004, D-1007 overdue in
        red, X-2002 "due in 4 min" in yellow, X-2001 "on time" in green; a dash in every Claim
        cell.
        """
        assert snap_compare(_app(frozen), terminal_size=size, run_before=_facility)

    @pytest.mark.parametrize("size", SIZES)
    def test_order_view(self, snap_compare, frozen: Network, size):
        """You should see "putback · order D-1002", the order in one line (cancelled since
        09:30, 2 lines, 3 units picked, 3 put back, 2 entries), and its entries in order: line 1
        TSHIRT-BLK-M 1 unit at 13:50 and line 2 SOCKS-3PK 2 units at 13:52, both put back to
        A-01-02 by OP-0001 at PACK-01, "applied" in green.
        """
        assert snap_compare(_app(frozen), terminal_size=size, run_before=_order_view)

    @pytest.mark.parametrize("size", SIZES)
    def test_central_store_down(self, snap_compare, frozen: Network, size):
        """You should see the red banner "✖ CENTRAL STORE NOT ANSWERING since 14:05:00: ...
        STALE: the figures below are from 14:05:00. Retrying (refresh every 3600 s).", and the
        network view's figures under it, dimmed.
        """

        async def down(pilot: Pilot[None]) -> None:
            await _network(pilot)
            frozen.server.stop()
            app = pilot.app
            assert isinstance(app, DashboardApp)
            app.action_refresh_now()
            await until(pilot, lambda: app.connection.answering is False, "the failure shown")

        assert snap_compare(_app(frozen), terminal_size=size, run_before=down)

    def test_help(self, snap_compare, frozen: Network):
        """You should see the help panel over the network view: the keys, then "Figures" with
        the status line, Orders, Overdue... each explained.
        """

        async def help_open(pilot: Pilot[None]) -> None:
            await _network(pilot)
            await pilot.press("f1")

        assert snap_compare(_app(frozen), terminal_size=(80, 24), run_before=help_open)
