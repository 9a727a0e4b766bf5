"""The dashboard under Pilot against a real central store on loopback: what a manager sees."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual.widgets import DataTable

from putback_tui.dashboard import figures as fig
from putback_tui.dashboard.app import DashboardApp
from putback_tui.dashboard.screens.facility import FacilityScreen
from putback_tui.dashboard.screens.network import NetworkScreen
from putback_tui.dashboard.screens.order import OrderScreen
from putback_tui.domain.models import Order, OrderLine, OrderStatus, now_utc
from putback_tui.sync.worker import SyncWorker
from tests.central_support import MakeTerminal

from .conftest import Network, front, shown, status, until


def row(app: DashboardApp, table_id: str, key: str) -> list[str]:
    """A table row of the screen in front, as the plain text of each cell."""
    table: DataTable[object] = front(app).query_one(f"#{table_id}", DataTable)
    return [c.plain if isinstance(c, Text) else str(c) for c in table.get_row(key)]


def keys(app: DashboardApp, table_id: str) -> list[str]:
    table: DataTable[object] = front(app).query_one(f"#{table_id}", DataTable)
    return [str(k.value) for k in table.rows]


def text_of(app: DashboardApp, widget_id: str) -> str:
    return str(front(app).query_one(f"#{widget_id}").content)  # type: ignore[attr-defined]


async def test_network_view_then_a_facility_then_an_order_and_back(network: Network) -> None:
    app = network.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, shown(app), "the network view's figures")
        assert isinstance(front(app), NetworkScreen)
        # STORE-01: 4 waiting orders (D-1002, D-1003, D-1004, D-1007), all overdue, 7 units.
        facility, waiting, overdue, due_soon, units, *_ = row(app, "facilities", "STORE-01")
        assert (facility, waiting, overdue, due_soon, units) == ("STORE-01", "4", "4", "0", "7")
        assert "1 facility · 4 orders waiting · 4 overdue" in text_of(app, "totals")
        assert "central store answering" in status(app)

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(front(app), FacilityScreen) and shown(app)(),
                    "the facility view")
        assert keys(app, "orders") == ["D-1002", "D-1003", "D-1004", "D-1007"]
        _order, _age, sla, units_left, claim, why = row(app, "orders", "D-1002")
        assert sla.startswith("overdue")
        assert units_left == "3"
        assert claim == fig.DASH
        assert "overdue" in why
        assert keys(app, "terminals") == ["PACK-01", "PACK-02"]
        assert row(app, "terminals", "PACK-01")[1] == "never"
        assert "4 orders waiting · 7 units · 4 overdue" in text_of(app, "figures")

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(front(app), OrderScreen) and shown(app)(),
                    "the order view")
        assert text_of(app, "order-figures").startswith("D-1002 · STORE-01 · cancelled")
        assert keys(app, "lines") == ["1", "2"]

        await pilot.press("escape")
        assert isinstance(front(app), FacilityScreen)
        await pilot.press("escape")
        assert isinstance(front(app), NetworkScreen)
        await pilot.press("escape")  # nothing below the network view: it stays
        assert isinstance(front(app), NetworkScreen)


async def test_the_figures_follow_a_terminal_that_syncs(
    network: Network, make_terminal: MakeTerminal
) -> None:
    t = make_terminal("PACK-01")
    app = network.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, shown(app), "the network view's figures")
        assert row(app, "facilities", "STORE-01")[1:5] == ["4", "4", "0", "7"]

        # At PACK-01, OP-0001 puts back every unit of D-1002 (3), and the terminal syncs.
        t.station.sign_in("OP-0001")
        t.station.open_order("D-1002")
        t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
        t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
        worker = SyncWorker(t.path, t.sync_settings(network.server.url,
                                                    network.terminals["PACK-01"]))
        assert worker.run_once().waiting == 0

        await until(pilot, lambda: row(app, "facilities", "STORE-01")[1] == "3",
                    "the network view refreshed by itself")
        assert row(app, "facilities", "STORE-01")[1:5] == ["3", "3", "0", "4"]

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(front(app), FacilityScreen) and shown(app)(),
                    "the facility view")
        assert "D-1002" not in keys(app, "orders")
        pack01 = row(app, "terminals", "PACK-01")
        assert pack01[1] != "never"
        assert pack01[3] == "0"

        # The cleared order is no longer waiting, but its history is one Enter away elsewhere:
        app.push_screen(OrderScreen("D-1002"))
        await until(pilot, lambda: isinstance(front(app), OrderScreen) and shown(app)(),
                    "the order view")
        entries = front(app).query_one("#entries", DataTable)
        kinds = [entries.get_row_at(i) for i in range(entries.row_count)]
        put_backs = [[c.plain for c in r] for r in kinds if r[1].plain == "put back"]
        assert [(r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in put_backs] == [
            ("1", "TSHIRT-BLK-M", "1", "A-01-01", "OP-0001", "PACK-01", "applied"),
            ("2", "SOCKS-3PK", "2", "A-02-01", "OP-0001", "PACK-01", "applied"),
        ]


async def test_central_store_down_then_back(network: Network) -> None:
    app = network.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, shown(app), "the network view's figures")
        screen = front(app)

        network.server.stop()
        await until(pilot, lambda: app.connection.answering is False, "the failure noticed")
        line = status(app)
        assert "CENTRAL STORE NOT ANSWERING since" in line
        assert "STALE: the figures below are from" in line
        assert screen.has_class("stale")
        # The last figures stay on screen.
        assert row(app, "facilities", "STORE-01")[1] == "4"

        network.server.start()
        await until(pilot, lambda: app.connection.answering is True, "the recovery")
        assert "central store answering" in status(app)
        assert not screen.has_class("stale")
        assert row(app, "facilities", "STORE-01")[1] == "4"


async def test_a_dashboard_started_while_the_central_store_is_down_says_so(
    network: Network,
) -> None:
    network.server.stop()
    app = network.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection.answering is False, "the failure shown")
        assert "NOT ANSWERING" in status(app)
        assert "No figures yet" in status(app)
        assert not front(app).has_class("stale")  # nothing old to mark
        network.server.start()
        await until(pilot, shown(app), "the figures once it answers")


async def test_a_wrong_token_is_said_in_words(network: Network) -> None:
    app = network.app()
    app.client = type(app.client)(network.server.url, "not-a-token")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection.answering is False, "the refusal shown")
        assert "refuses this view" in status(app)
        assert "the token is not known there" in status(app)


async def test_a_facility_the_viewer_may_not_read_is_refused_in_words(network: Network) -> None:
    north = network.store.add_viewer("NORTH", ["STORE-02"])
    app = network.app()
    app.client = type(app.client)(network.server.url, north)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, shown(app), "the network view")
        assert keys(app, "facilities") == ["STORE-02"]
        app.push_screen(FacilityScreen("STORE-01"))
        await until(pilot, lambda: app.connection.answering is False, "the refusal shown")
        assert "refuses this view" in status(app)
        assert "this viewer may not see that" in status(app)
        assert "NOT ANSWERING" not in status(app)


async def test_text_from_the_central_store_is_never_read_as_markup(network: Network) -> None:
    since = now_utc() - timedelta(minutes=5)
    network.store.import_data(orders=[Order(
        order_id="[bold red]X[/]", facility="STORE-01", status=OrderStatus.CANCELLED,
        status_changed_at=since,
        lines=(OrderLine(line_no=1, sku="MUG-WHT", quantity=1, picked=1),),
    )])
    app = network.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, shown(app), "the network view")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(front(app), FacilityScreen) and shown(app)(),
                    "the facility view")
        assert "[bold red]X[/]" in keys(app, "orders")
        assert row(app, "orders", "[bold red]X[/]")[0] == "[bold red]X[/]"


async def test_the_facility_view_shows_who_is_clearing_an_order(network: Network) -> None:
    """PACK-02 has D-1003 open for put-back: its claim shows on the dashboard's waiting orders."""
    from putback_tui.central.storage import Client
    from putback_tui.wire import ClaimRequest, ClientKind

    pack02 = Client("PACK-02", ClientKind.TERMINAL, "STORE-01")
    assert network.store.claim(pack02, "D-1003", ClaimRequest(operator="OP-0002")).held
    app = network.app()
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, shown(app), "the network view's figures")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(front(app), FacilityScreen) and shown(app)(),
                    "the facility view")
        claim = row(app, "orders", "D-1003")[4]
        assert claim.startswith("PACK-02 · OP-0002 since ")
        assert row(app, "orders", "D-1002")[4] == fig.DASH
