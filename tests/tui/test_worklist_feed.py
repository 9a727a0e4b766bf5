"""Pilot tests of how the worklist reaches the screens: reads out of the scans' way, the status
bar's counts on every screen, live orders owing a put-back, and the role map the screens dim by.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot

from putback_tui.config import Settings
from putback_tui.domain.models import Order, OrderLine, OrderStatus, Permission
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.tui.app import PutbackApp, make_app
from putback_tui.tui.screens.live_order import LiveOrderScreen
from putback_tui.tui.screens.location import LocationScreen
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.tui.screens.put_back import PutBackScreen
from putback_tui.tui.screens.supervisor import SupervisorScreen
from putback_tui.tui.widgets import LineTable
from putback_tui.tui.worklist_feed import Cancelled, ScanGate

from .conftest import FROZEN, SteppingClock, scan, screen_text, send_keys, settle
from .test_supervisor_flows import key, own_enter, sign_in

BOTTLE, MUG = "96385074", "5901234123457"


def status_bar(app: PutbackApp) -> str:
    """The status bar's second line, as the operator reads it."""
    return screen_text(app).splitlines()[-2]


def worklist_keys(app: PutbackApp) -> list[str]:
    screen = app.screen
    assert isinstance(screen, OrderScreen)
    return [row.key for row in screen.query_one("#worklist", LineTable).rows]


def pull(ledger: Ledger, cursor: int, **changes: Any) -> None:
    """A pull round as the sync worker applies it: one page, the last of its round."""
    with ledger.write() as tx:
        book.apply_page(
            tx, cursor=cursor, next_cursor=cursor + 1, has_more=False, applied_through_seq=0,
            **changes,
        )


def new_exception(order_id: str, minutes_ago: int = 3) -> Order:
    return Order(
        order_id=order_id,
        facility="STORE-01",
        status=OrderStatus.CANCELLED,
        status_changed_at=FROZEN - timedelta(minutes=minutes_ago),
        lines=(OrderLine(line_no=1, sku="MUG-WHT", quantity=2, picked=2),),
    )


class Reads:
    """Records every worklist read, and whether a scan was on its way to the screen then."""

    def __init__(self, app: PutbackApp) -> None:
        self.app = app
        self.scan_under_way = False
        self.reads: list[bool] = []
        """One per read: True when it ran while a scan was being handled."""
        read = app.station.worklist
        shown = app.scan_shown

        def worklist(**kwargs: Any) -> Any:
            self.reads.append(self.scan_under_way)
            return read(**kwargs)

        def scan_shown(text: str) -> None:
            self.scan_under_way = False
            shown(text)

        app.station.worklist = worklist  # type: ignore[method-assign]
        app.scan_shown = scan_shown  # type: ignore[method-assign]

    async def scan(self, pilot: Pilot[int], text: str) -> None:
        self.scan_under_way = True
        await scan(pilot, text)


# -- item: reads out of the scans' way -----------------------------------------------------------


async def test_the_list_is_read_again_only_once_the_scan_that_changed_it_is_on_screen(
    app: PutbackApp,
) -> None:
    """The last unit of D-1004 put back brings the order screen back and changes the list:
    it is read again after the outcome is shown, not while the scan is still being handled
    (a read and a scan take turns on the processor: the scan would show later).
    """
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        reads = Reads(app)
        await reads.scan(pilot, "D-1004")
        await reads.scan(pilot, BOTTLE)
        await reads.scan(pilot, "LOC:B-01-01")
        assert isinstance(app.screen, LocationScreen)
        await reads.scan(pilot, BOTTLE)
        assert isinstance(app.screen, OrderScreen)
        await settle(pilot)
        assert worklist_keys(app) == ["D-1002", "D-1003", "D-1007"]
        assert reads.reads, "the list was not read again"
        assert not any(reads.reads), f"read during a scan: {reads.reads}"


def test_a_read_under_way_waits_while_a_scan_is_handled() -> None:
    """The gate a background read pauses at: closed from a scan's first key until it shows."""
    gate = ScanGate(max_wait_s=30)
    steps: list[str] = []
    released = threading.Event()

    def reader() -> None:
        pause = gate.pause()
        pause()
        steps.append("first order")
        released.wait(5)
        pause()
        steps.append("second order")

    gate.busy()  # a scan is being handled
    thread = threading.Thread(target=reader)
    thread.start()
    thread.join(0.2)
    assert steps == []  # waiting for the scan
    gate.idle()  # the scan is on screen
    thread.join(0.2)
    assert steps == ["first order"]
    gate.busy()  # the next scan starts
    released.set()
    thread.join(0.2)
    assert steps == ["first order"]
    gate.idle()
    thread.join(5)
    assert steps == ["first order", "second order"]


def test_keys_typed_with_no_enter_after_them_hold_a_read_up_only_briefly() -> None:
    gate = ScanGate(max_wait_s=0.05)
    pause = gate.pause()
    gate.busy()
    for _ in range(100):  # a hundred orders: the budget is the read's, not each order's
        pause()
    assert gate.is_idle  # busy for longer than the budget: a new read may start


def test_a_cancelled_reader_stops_at_its_next_step() -> None:
    stop = False
    pause = ScanGate().pause(lambda: stop)
    pause()
    stop = True
    with pytest.raises(Cancelled):
        pause()


def test_a_long_query_pauses_and_stops_inside_sqlite_too() -> None:
    """The reader's pause also runs inside one long query (SQLite's progress handler): a
    cancelled reader's query is interrupted there, not run to its end.
    """
    import sqlite3

    from putback_tui.worklist import PAUSE_EVERY_STEPS, progress_handler

    conn = sqlite3.connect(":memory:")
    calls = []

    def pause() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise Cancelled

    conn.set_progress_handler(progress_handler(pause), PAUSE_EVERY_STEPS)
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000) "
            "SELECT count(*) FROM n"
        ).fetchone()
    assert len(calls) == 3


# -- item: the status bar on every screen --------------------------------------------------------


async def test_the_status_bar_counts_the_waiting_orders_on_every_screen_and_pulls_update_it(
    app: PutbackApp, demo_ledger: Ledger
) -> None:
    """The station's status bar: in the middle of a put-back it still shows what waits, and a
    pull that brings a new exception updates it there (the notice waits for the order screen).
    """
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        assert "4 waiting, 4 overdue" in status_bar(app)
        await scan(pilot, "D-1002")
        assert isinstance(app.screen, PutBackScreen)
        assert "4 waiting, 4 overdue" in status_bar(app)
        await scan(pilot, "96385074")  # not on D-1002: refused, the bar stays
        pull(demo_ledger, 1, orders=[new_exception("D-2001")])
        app.sync_state_changed_from_thread(True, 0, 0, FROZEN, None)
        await settle(pilot)
        assert isinstance(app.screen, PutBackScreen)
        assert "5 waiting, 4 overdue" in status_bar(app)
        assert app.result is not None
        assert not app.result.text.startswith("New exception")
        await key(pilot, "f2")
        assert isinstance(app.screen, SupervisorScreen)
        assert "5 waiting, 4 overdue" in status_bar(app)
        await key(pilot, "escape")
        await key(pilot, "escape")
        assert isinstance(app.screen, OrderScreen)
        assert app.result.text == "New exception: D-2001 cancelled, 2 units to put back."
        # Signed out, the bar counts nothing: the sign-in screen is nobody's queue.
        await key(pilot, "escape")
        assert "waiting" not in status_bar(app)


# -- item: live orders owing a put-back after a line edit ----------------------------------------


async def test_a_cancelled_line_s_picked_mug_waits_on_the_worklist_until_it_is_put_back(
    app: PutbackApp,
) -> None:
    """F6 on D-1008's mugs (1 of 2 picked) starts the mug's put-back; left for later, the live
    order waits on the list as "line cancelled" and opens straight into its put-back.
    """
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1008")
        assert isinstance(app.screen, LiveOrderScreen)
        await key(pilot, "f6")
        await scan(pilot, "3")  # DUPLICATE ORDER
        await own_enter(pilot)
        assert isinstance(app.screen, PutBackScreen)
        while not isinstance(app.screen, OrderScreen):
            await key(pilot, "escape")
        await settle(pilot)
        assert worklist_keys(app) == ["D-1002", "D-1003", "D-1004", "D-1007", "D-1008"]
        assert "D-1008  line cancelled" in screen_text(app)
        assert "5 waiting, 4 overdue" in status_bar(app)
        await scan(pilot, "D-1008")
        assert isinstance(app.screen, PutBackScreen)
        assert app.result is not None
        assert app.result.text == (
            "Order D-1008 is live: 1 unit taken off by a line edit to put back."
        )
        await scan(pilot, MUG)
        await scan(pilot, "LOC:A-01-02")
        await scan(pilot, MUG)
        while not isinstance(app.screen, OrderScreen):
            await key(pilot, "escape")
        await settle(pilot)
        assert "D-1008" not in worklist_keys(app)
        assert "4 waiting, 4 overdue" in status_bar(app)


# -- item: the role map the screens dim actions by -----------------------------------------------


def _ui_thread_reads(ledger: Ledger, ui: threading.Thread) -> list[str]:
    """Record the role-map reads made on the UI thread (each a wait on the ledger's lock)."""
    seen: list[str] = []
    read: Callable[[], Any] = ledger.central_roles

    def central_roles() -> Any:
        if threading.current_thread() is ui:
            seen.append("central_roles")
        return read()

    ledger.central_roles = central_roles  # type: ignore[method-assign]
    return seen


async def test_dimming_actions_reads_nothing_from_the_ledger_on_the_ui_thread(
    app: PutbackApp, demo_ledger: Ledger
) -> None:
    """The live order's keys and the F2 menu are dimmed from the role map read at sign-in:
    a screen never waits on the ledger (a slow write holds its lock) to draw its buttons.
    """
    async with app.run_test(size=(100, 30)) as pilot:
        reads = _ui_thread_reads(demo_ledger, threading.current_thread())
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        assert isinstance(app.screen, LiveOrderScreen)
        assert "dimmed: they need cancel_order, force_cancel" in " ".join(
            screen_text(app).split()
        )
        await key(pilot, "f2")
        assert isinstance(app.screen, SupervisorScreen)
        assert "(needs bulk_reject)" in screen_text(app)
        assert reads == []


async def test_a_role_map_pulled_while_signed_in_dims_the_menu_at_once(
    demo_ledger: Ledger, clock: SteppingClock
) -> None:
    """The central store takes move-out away from operators: the next pull brings it, and the
    F2 menu of the operator already signed in dims it (no sign-out needed).
    """
    app = make_app(demo_ledger, Settings(), clock=lambda: FROZEN, monotonic=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await key(pilot, "f2")
        assert "(needs move_out)" not in screen_text(app)
        await key(pilot, "escape")
        pull(
            demo_ledger,
            1,
            roles={
                "operator": [Permission.PUT_BACK.value, Permission.REJECT_ITEM.value],
                "supervisor": [p.value for p in Permission],
            },
        )
        app.sync_state_changed_from_thread(True, 0, 0, FROZEN, None)
        await settle(pilot)
        assert app.station.may(Permission.PUT_BACK)
        assert not app.station.may(Permission.MOVE_OUT)
        await key(pilot, "f2")
        assert "(needs move_out)" in screen_text(app)


async def test_typing_then_esc_opens_the_gate_again(app: PutbackApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        send_keys(app, "D-10")
        await pilot.pause()
        assert not app.worklist_feed.gate.is_idle
        await pilot.press("escape")
        await pilot.pause()
        assert app.worklist_feed.gate.is_idle
        assert isinstance(app.screen, OrderScreen)
