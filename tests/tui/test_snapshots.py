"""Snapshots of every screen and state, at 100x30 and at 80x24 (pytest-textual-snapshot)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import pytest
from textual.pilot import Pilot

from putback_tui.ledger import transaction
from putback_tui.tui.app import PutbackApp
from putback_tui.tui.messages import ScanReceived

from .conftest import FROZEN, scan, settle

SIZES = [pytest.param((100, 30), id="100x30"), pytest.param((80, 24), id="80x24")]
SOCKS, MUG, BOTTLE, KIT = "012345678905", "5901234123457", "96385074", "09501101530003"

Steps = Callable[[Pilot[int]], Awaitable[None]]


@pytest.fixture(autouse=True)
def frozen_ledger_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Entries get the frozen time and are shown in UTC: "reconciled at <time>" stays put."""
    monkeypatch.setattr(transaction, "now_utc", lambda: FROZEN)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def scans(*codes: str, signed_in: bool = True) -> Steps:
    """A run_before that signs in (unless told not to) and scans ``codes`` in order."""

    async def run_before(pilot: Pilot[int]) -> None:
        await settle(pilot)
        if signed_in:
            await scan(pilot, "OP-0001")
        for code in codes:
            await scan(pilot, code)

    return run_before


class TestSignInScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_ready(self, snap_compare, app: PutbackApp, size: tuple[int, int]):
        """You should see the sign-in screen, signed out: "Scan your badge to sign in", the
        hint about F1 and the demo codes, an empty result bar, and the status bar saying
        "signed out" and "offline (no central store configured)".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans(signed_in=False))

    @pytest.mark.parametrize("size", SIZES)
    def test_order_before_badge_refused(self, snap_compare, app: PutbackApp, size):
        """You should see a red result bar: "✘ An order code is not expected here. Scan your
        badge to sign in first.".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1002", signed_in=False))


class TestOrderScreen:
    """Every order screen below also shows the worklist: D-1002, D-1003, D-1004, D-1007, all
    overdue in red, "Waiting: 4 orders, 4 overdue." above them and "4 waiting, 4 overdue" in
    the status bar (less what was put back).
    """

    @pytest.mark.parametrize("size", SIZES)
    def test_signed_in(self, snap_compare, app: PutbackApp, size):
        """You should see "Scan or type an order ID", the worklist under it with the cursor on
        D-1002 ("overdue 4 h 05", "493: +490 overdue, +3 for 3 units"), a green "✔ Signed in:
        Olivia Operator (OP-0001)" bar, and the operator's name in the status bar.
        """
        assert snap_compare(app, terminal_size=size, run_before=scans())

    @pytest.mark.parametrize("size", SIZES)
    def test_released_at_once(self, snap_compare, app: PutbackApp, size):
        """You should see D-1001's summary (both lines released, nothing put back) and a green
        bar: "Order D-1001 done: 2 lines, 3 units returned to available stock."; "not sent: 1".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1001"))

    @pytest.mark.parametrize("size", SIZES)
    def test_already_reconciled(self, snap_compare, app: PutbackApp, size):
        """You should see an amber bar: "Order D-1001 was already released, <date>, by OP-0001
        at PACK-01: nothing was picked, nothing to do." and D-1001's summary above the worklist.
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1001", "D-1001"))

    @pytest.mark.parametrize("size", SIZES)
    def test_shipped_refused(self, snap_compare, app: PutbackApp, size):
        """You should see a red bar: "✘ Order D-1006 has shipped: handle it as a return."."""
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1006"))

    @pytest.mark.parametrize("size", SIZES)
    def test_unknown_order_refused(self, snap_compare, app: PutbackApp, size):
        """You should see a red bar: "✘ Order D-9999 is not known here. Check the ID, or wait
        for the next sync.".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-9999"))

    @pytest.mark.parametrize("size", SIZES)
    def test_markup_shown_literally(self, snap_compare, app: PutbackApp, size):
        """You should see a red bar quoting the scan literally: "Not a known code: [bold]x[/]"
        (square brackets visible, nothing bold).
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("[bold]x[/]"))

    @pytest.mark.parametrize("size", SIZES)
    def test_escape_sequence_shown_escaped(self, snap_compare, app: PutbackApp, size):
        r"""You should see a red bar: "Contains control character \x1b: not a code. Scanned:
        \x1b[2J." with the backslash visible, and the screen intact.
        """

        async def run_before(pilot: Pilot[int]) -> None:
            await scans()(pilot)
            pilot.app.post_message(ScanReceived("\x1b[2J", "hid"))
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES)
    def test_typing_by_hand(self, snap_compare, app: PutbackApp, size):
        """You should see the typed line "Typed: D-10▌" above the result bar: an order ID
        being typed by hand, not yet ended with Enter.
        """

        async def run_before(pilot: Pilot[int]) -> None:
            await scans()(pilot)
            await pilot.press("D", "minus", "1", "0")
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES)
    def test_order_completed(self, snap_compare, app: PutbackApp, size):
        """You should see D-1002's summary (TSHIRT put away to A-01-01, SOCKS to A-02-01), the
        worklist without D-1002 (3 waiting), and a green bar: "Order D-1002 done: 3 units put
        back, every line reconciled."; "not sent: 3".
        """
        steps = scans(
            "D-1002", "4006381333931", "LOC:A-01-01", "4006381333931",
            SOCKS, "LOC:A-02-01", SOCKS, SOCKS,
        )
        assert snap_compare(app, terminal_size=size, run_before=steps)


class TestPutBackScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_lines_after_release(self, snap_compare, app: PutbackApp, size):
        """You should see D-1003's outstanding line (MUG-WHT, picked 2, put back 0, left 2,
        goes to A-01-02), the row highlighted, and a green bar: "Order D-1003: 2 lines, 2 units
        returned to available stock; 2 units to put back.".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1003"))

    @pytest.mark.parametrize("size", SIZES)
    def test_product_not_on_order(self, snap_compare, app: PutbackApp, size):
        """You should see D-1002's two lines and a red bar: "✘ MUG-WHT is not on order
        D-1002.".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1002", MUG))


class TestLocationScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_suggested_location(self, snap_compare, app: PutbackApp, size):
        """You should see SOCKS-3PK (picked 2, 2 left) and A-02-01 in large characters in a
        blue box captioned "Suggested: where it was picked from".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1002", SOCKS))

    @pytest.mark.parametrize("size", SIZES)
    def test_one_unit_confirmed(self, snap_compare, app: PutbackApp, size):
        """You should see the A-02-01 box with a green border ("Scanned location"), "1 left",
        and a green bar: "Put back 1 unit of SOCKS-3PK to A-02-01: 1 of 2 done.".
        """
        steps = scans("D-1002", SOCKS, "LOC:A-02-01", SOCKS)
        assert snap_compare(app, terminal_size=size, run_before=steps)

    @pytest.mark.parametrize("size", SIZES)
    def test_typed_quantity(self, snap_compare, app: PutbackApp, size):
        """You should see "Quantity 2: the next item scan confirms 2 units." in yellow under the
        steps, and the same sentence in the result bar.
        """
        steps = scans("D-1003", MUG, "LOC:A-01-02", "2")
        assert snap_compare(app, terminal_size=size, run_before=steps)

    @pytest.mark.parametrize("size", SIZES)
    def test_wrong_location(self, snap_compare, app: PutbackApp, size):
        """You should see the suggested B-01-01 box (not confirmed) and a red bar: "✘ PACK-01 is
        a packing location: scan a storage or exception location.".
        """
        steps = scans("D-1004", BOTTLE, "LOC:PACK-01")
        assert snap_compare(app, terminal_size=size, run_before=steps)

    @pytest.mark.parametrize("size", SIZES)
    def test_exception_area(self, snap_compare, app: PutbackApp, size):
        """You should see EX-01 spaced out in bold (its X is not in the large font), captioned
        "Scanned: exception area (not sellable until moved out)".
        """
        steps = scans("D-1004", BOTTLE, "LOC:EX-01")
        assert snap_compare(app, terminal_size=size, run_before=steps)

    @pytest.mark.parametrize("size", SIZES)
    def test_lot_required(self, snap_compare, app: PutbackApp, size):
        """You should see FIRSTAID-KIT with "lot AB-123", "Type or scan the lot of FIRSTAID-KIT"
        in yellow, and a red bar: "✘ FIRSTAID-KIT is lot-tracked: scan the GS1 label or type
        the lot.".
        """
        steps = scans("D-1007", KIT, "LOC:A-03-01", KIT)
        assert snap_compare(app, terminal_size=size, run_before=steps)


class TestLiveOrderScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_live_order(self, snap_compare, app: PutbackApp, size):
        """You should see D-1005's line (TSHIRT-BLK-M, ordered 2, picked 0, rejected 0), three
        buttons (F3 Reject item; F4 Cancel order and F5 Force cancel dimmed, with "F4, F5
        dimmed: they need cancel_order, force_cancel (ask a supervisor)." under them, then "F6
        cancel line, F7 reduce quantity: they need edit_lines."), Esc, Ctrl+Q, F1 and Ctrl+Z in
        the footer (at 80x24 too), and an amber bar: "Order D-1005 is
        live (open): nothing changes by itself.".
        """
        assert snap_compare(app, terminal_size=size, run_before=scans("D-1005"))


class TestHelpDialog:
    @pytest.mark.parametrize("size", SIZES)
    def test_help_with_demo_codes(self, snap_compare, app: PutbackApp, size):
        """You should see the help panel over the order screen: the keys (F1, F2, Enter, arrows,
        Esc, Ctrl+Z, Ctrl+Q), the scanning rules with "0 so far", and the demo codes (badges,
        orders...; the first-aid kit as one GS1 label "]C1010950110153000310AB-123" or its lot
        typed alone; at 80x24 only their heading shows: the panel scrolls).
        """

        async def run_before(pilot: Pilot[int]) -> None:
            await scans()(pilot)
            await pilot.press("f1")
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)


class TestStatusBar:
    @pytest.mark.parametrize("size", SIZES)
    def test_hid_scanner_and_sync(self, snap_compare, app: PutbackApp, size):
        """You should see the status bar with "scanner zebra: disconnected (unplugged)" in red
        (cut with an ellipsis at 80 columns, never wrapped),
        "online, last sync 14:00:00", "not sent: 4", "refused by central: 1" and "4 waiting, 4
        overdue" (cut at 80 columns).
        """

        async def run_before(pilot: Pilot[int]) -> None:
            await scans()(pilot)
            assert isinstance(pilot.app, PutbackApp)
            pilot.app.scanner_state_changed_from_thread("zebra", "disconnected", "unplugged")
            pilot.app.sync_state_changed_from_thread(
                True, 4, 1, datetime(2026, 11, 20, 14, 0, tzinfo=UTC), None
            )
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)
