"""Pilot tests: every demo order cleared by scanner input, every refusal, the scan rules."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Button

from putback_tui.ledger import Ledger
from putback_tui.tui.app import PutbackApp
from putback_tui.tui.dialogs.help import HelpDialog
from putback_tui.tui.messages import PutBackConfirmed, ScanReceived
from putback_tui.tui.screens.live_order import LiveOrderScreen
from putback_tui.tui.screens.location import LocationScreen
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.tui.screens.put_back import PutBackScreen
from putback_tui.tui.screens.sign_in import SignInScreen
from putback_tui.tui.state import Tone
from putback_tui.tui.widgets import LineTable

from .conftest import SteppingClock, scan, screen_text, send_keys, settle, stock_of

TSHIRT, MUG, SOCKS, CAP, BOTTLE, KIT = (
    "4006381333931",
    "5901234123457",
    "012345678905",
    "9780201379624",
    "96385074",
    "09501101530003",
)
KIT_WITH_LOT = "]C10109501101530003" + "10AB-123"


class Bells:
    """Counts the bell: every refusal rings it."""

    def __init__(self, app: PutbackApp) -> None:
        self.count = 0
        app.bell = self.ring  # type: ignore[method-assign]

    def ring(self) -> None:
        self.count += 1


def result(app: PutbackApp) -> tuple[Tone, str]:
    assert app.result is not None
    return app.result.tone, app.result.text


async def signed_in(pilot) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await scan(pilot, "OP-0001")
    assert isinstance(pilot.app.screen, OrderScreen)


# -- the demo orders, one by one -------------------------------------------------------------


async def test_d1001_nothing_picked_is_released_at_once(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1001")
        assert result(app) == (
            Tone.DONE,
            "Order D-1001 done: 2 lines, 3 units returned to available stock.",
        )
        text = screen_text(app)
        assert "2 lines, 3 units returned to available stock" in text
        assert "Order D-1001 is done: nothing was picked." in text
        assert isinstance(app.screen, OrderScreen)
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 8)
    assert stock_of(demo_ledger, "MUG-WHT") == ({"A-01-02": 5}, 4)


async def test_d1002_all_picked_put_back_unit_by_unit(app: PutbackApp, demo_ledger: Ledger):
    confirmed: list[PutBackConfirmed] = []
    async with app.run_test(size=(100, 30), message_hook=lambda m: confirmed.append(m)
                            if isinstance(m, PutBackConfirmed) else None) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        assert isinstance(app.screen, PutBackScreen)
        text = screen_text(app)
        assert "3 units on 2 lines to put back" in text
        assert "TSHIRT-BLK-M" in text
        assert "SOCKS-3PK" in text

        await scan(pilot, TSHIRT)
        assert isinstance(app.screen, LocationScreen)
        assert "A-01-01" in app.screen.query_one("#sign").code  # type: ignore[attr-defined]
        assert "Suggested: where it was picked from" in screen_text(app)
        await scan(pilot, "LOC:A-01-01")
        await scan(pilot, TSHIRT)
        assert result(app) == (
            Tone.DONE,
            "Put back 1 unit of TSHIRT-BLK-M to A-01-01: 1 of 1 done. Line done: scan the next "
            "item.",
        )
        assert isinstance(app.screen, PutBackScreen)
        assert app.screen.query_one(LineTable).row_count == 1  # only the socks are left

        await scan(pilot, SOCKS)
        await scan(pilot, "LOC:A-02-01")
        await scan(pilot, SOCKS)
        assert "1 of 2 done" in result(app)[1]
        await scan(pilot, SOCKS)  # a deliberate repeat, a second later: a second unit
        assert isinstance(app.screen, OrderScreen)
        assert result(app) == (
            Tone.DONE,
            "Order D-1002 done: 3 units put back, every line reconciled. Scan the next order.",
        )
        text = screen_text(app)
        assert "Order D-1002 is done." in text
        assert "A-02-01" in text
    assert len(confirmed) == 3
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 11}, 7)
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 10}, 10)


async def test_d1003_partly_picked_releases_then_takes_a_typed_quantity(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1003")
        assert result(app) == (
            Tone.DONE,
            "Order D-1003: 2 lines, 2 units returned to available stock; 2 units to put back.",
        )
        assert stock_of(demo_ledger, "CAP-RED") == ({"A-02-02": 3}, 3)
        await scan(pilot, MUG)
        await scan(pilot, "LOC:A-01-02")
        await scan(pilot, "2")  # typed quantity, then one scan confirms both units
        assert result(app) == (Tone.INFO, "Quantity 2: scan the item once to confirm 2 units.")
        assert "Quantity 2" in screen_text(app)
        await scan(pilot, MUG)
        assert result(app)[1].startswith("Order D-1003 done: 2 units put back")
        assert isinstance(app.screen, OrderScreen)
    # MUG: 1 unpicked unit released, 2 put back; CAP: 1 unpicked unit released.
    assert stock_of(demo_ledger, "MUG-WHT") == ({"A-01-02": 7}, 6)
    assert stock_of(demo_ledger, "CAP-RED") == ({"A-02-02": 3}, 3)


async def test_d1004_deleted_put_into_the_exception_area(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        await scan(pilot, BOTTLE)
        await scan(pilot, "LOC:EX-01")
        assert result(app) == (
            Tone.INFO,
            "Location EX-01 (not the suggested B-01-01): now scan the item once per unit.",
        )
        assert "exception area" in screen_text(app)
        await scan(pilot, BOTTLE)
        assert result(app)[1].startswith("Order D-1004 done")
    # In the exception area: counted on hand, not available to promise.
    assert stock_of(demo_ledger, "BOTTLE-1L") == ({"B-01-01": 4, "EX-01": 1}, 4)


async def test_d1005_live_order_shows_lines_and_its_actions(
    app: PutbackApp, demo_ledger: Ledger
):
    before = demo_ledger.stock()
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1005")
        assert isinstance(app.screen, LiveOrderScreen)
        tone, text = result(app)
        assert tone is Tone.NOTICE
        assert text == "Order D-1005 is live (open): nothing changes by itself."
        # An operator may reject, not cancel: F4 and F5 are dimmed, the permissions named.
        assert {b.id: b.disabled for b in app.screen.query(Button)} == {
            "reject": False, "cancel": True, "force-cancel": True,
        }
        shown = screen_text(app)
        for label in ("Reject item", "Cancel order", "Force cancel", "TSHIRT-BLK-M"):
            assert label in shown
        assert "F4, F5 dimmed: they need cancel_order, force_cancel (ask a supervisor)." in shown
        assert "Nothing changes by itself." in shown
    assert demo_ledger.stock() == before
    assert demo_ledger.last_seq() == 0


async def test_d1006_shipped_is_refused_and_nothing_changes(app: PutbackApp, demo_ledger: Ledger):
    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1006")
        assert result(app) == (Tone.REFUSED, "Order D-1006 has shipped: handle it as a return.")
        assert "has shipped" in screen_text(app)
        assert bells.count == 1
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 8}, 8)
    assert demo_ledger.last_seq() == 0


async def test_d1007_lot_missing_is_refused_then_the_typed_lot_is_taken(
    app: PutbackApp, demo_ledger: Ledger
):
    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1007")
        await scan(pilot, KIT)
        await scan(pilot, "LOC:A-03-01")
        await scan(pilot, KIT)  # a bare GTIN: no lot
        assert result(app) == (
            Tone.REFUSED,
            "FIRSTAID-KIT is lot-tracked: scan the GS1 label or type the lot.",
        )
        assert bells.count == 1
        assert "Type or scan the lot of FIRSTAID-KIT" in screen_text(app)
        assert demo_ledger.last_seq() == 0
        await scan(pilot, "AB-123")  # looks like an order ID, but a lot is wanted
        assert result(app)[1].startswith("Order D-1007 done")
    assert stock_of(demo_ledger, "FIRSTAID-KIT") == ({"A-03-01": 7}, 7)
    (entry,) = demo_ledger.entries()
    assert entry.details.lot == "AB-123"


async def test_d1007_gs1_scan_carries_its_lot(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1007")
        await scan(pilot, KIT_WITH_LOT)
        await scan(pilot, "LOC:A-03-01")
        await scan(pilot, KIT_WITH_LOT)
        assert result(app)[1].startswith("Order D-1007 done")
    assert stock_of(demo_ledger, "FIRSTAID-KIT") == ({"A-03-01": 7}, 7)


async def test_reconciled_order_says_who_where_when(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1001")
        await scan(pilot, "D-1001")
        tone, text = result(app)
        assert tone is Tone.NOTICE
        assert text.startswith("Order D-1001 was already released, ")
        assert text.endswith(", by OP-0001 at PACK-01: nothing was picked, nothing to do.")
    assert demo_ledger.last_seq() == 1


# -- refusals ------------------------------------------------------------------------------------


async def test_unknown_order(app: PutbackApp):
    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-9999")
        assert result(app) == (
            Tone.REFUSED,
            "Order D-9999 is not known here. Check the ID, or wait for the next sync.",
        )
        assert bells.count == 1


async def test_wrong_locations_are_refused(app: PutbackApp, demo_ledger: Ledger):
    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        await scan(pilot, BOTTLE)
        await scan(pilot, "LOC:Z-99-99")
        assert result(app) == (
            Tone.REFUSED,
            "Location Z-99-99 is not known here. Scan another location.",
        )
        await scan(pilot, "LOC:PACK-01")
        assert result(app) == (
            Tone.REFUSED,
            "PACK-01 is a packing location: scan a storage or exception location.",
        )
        await scan(pilot, BOTTLE)  # no location accepted yet
        assert result(app) == (Tone.REFUSED, "Scan the location first: B-01-01 is suggested.")
        assert bells.count == 3
    assert demo_ledger.last_seq() == 0


async def test_product_not_on_the_order_or_not_on_the_line(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        await scan(pilot, MUG)
        assert result(app) == (Tone.REFUSED, "MUG-WHT is not on order D-1002.")
        await scan(pilot, SOCKS)
        await scan(pilot, "LOC:A-02-01")
        await scan(pilot, MUG)
        assert result(app) == (
            Tone.REFUSED,
            "MUG-WHT is not on line 2 of order D-1002 (SOCKS-3PK).",
        )
        await scan(pilot, "4006381333932")
        assert result(app) == (
            Tone.REFUSED,
            "Check digit wrong: 4006381333932 should end in 1. Scan the item.",
        )
    assert demo_ledger.last_seq() == 0


async def test_a_refused_order_scan_clears_the_last_orders_done_summary(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        await scan(pilot, BOTTLE)
        await scan(pilot, "LOC:B-01-01")
        await scan(pilot, BOTTLE)
        assert "Order D-1004 is done." in screen_text(app)
        await scan(pilot, "D-1006")
        assert result(app)[0] is Tone.REFUSED
        assert "Order D-1004 is done." not in screen_text(app)
        await pilot.press("ctrl+z")  # no order in hand any more: nothing to undo
        await settle(pilot)
        assert result(app) == (Tone.REFUSED, "No order in hand: nothing to undo.")


async def test_leaving_the_supervisor_menu_says_what_the_screen_wants(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OrderScreen)
        assert result(app) == (
            Tone.INFO,
            "Back from the supervisor menu. Scan or type an order ID.",
        )


async def test_another_item_of_the_order_on_the_location_step_switches_to_its_line(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        await scan(pilot, SOCKS)
        await scan(pilot, "LOC:A-02-01")
        await scan(pilot, SOCKS)  # 1 of 2 socks put back
        await scan(pilot, TSHIRT)  # the T-shirt is in hand now
        assert result(app) == (
            Tone.INFO,
            "Switched to line 1, TSHIRT-BLK-M (1 left): scan its location, then the item once "
            "per unit.",
        )
        assert isinstance(app.screen, LocationScreen)
        assert app.screen.line_no == 1
        assert app.screen.location is None  # the socks' location is not the T-shirt's
        await scan(pilot, "LOC:A-01-01")
        await scan(pilot, TSHIRT)
        assert "Line done" in result(app)[1]
    order = demo_ledger.order("D-1002")
    assert order is not None
    assert [line.put_back for line in order.lines] == [1, 1]  # the sock stayed confirmed


async def test_over_quantity_is_refused(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        await scan(pilot, SOCKS)
        await scan(pilot, "LOC:A-02-01")
        await scan(pilot, "5")
        assert result(app) == (
            Tone.REFUSED,
            "Only 2 units of SOCKS-3PK left to put back, not 5.",
        )
        await scan(pilot, "0")
        assert result(app) == (Tone.REFUSED, "Quantity must be at least 1, not 0.")
        # After the line is done, one more scan of the item is refused on the list.
        await scan(pilot, "2")
        await scan(pilot, SOCKS)
        assert isinstance(app.screen, PutBackScreen)
        await scan(pilot, SOCKS)
        assert result(app) == (
            Tone.REFUSED,
            "SOCKS-3PK of order D-1002 is already all put back.",
        )
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 10}, 10)


async def test_unknown_code_and_wrong_step(app: PutbackApp):
    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await scan(pilot, "D-1002")  # not signed in yet
        assert result(app) == (
            Tone.REFUSED,
            "An order code is not expected here. Scan your badge to sign in first.",
        )
        await scan(pilot, "OP-9999")
        assert result(app) == (Tone.REFUSED, "Badge OP-9999 is not known here. Ask a supervisor.")
        await scan(pilot, "OP-0001")
        await scan(pilot, "HELLO")
        assert result(app) == (
            Tone.REFUSED,
            "Not a known code: HELLO. Scan an order.",
        )
        assert bells.count == 3


INJECTIONS = [
    ("[bold]x[/]", "Not a known code: [bold]x[/]"),
    ("[link=http://evil]click[/link]", "Not a known code: [link=http://evil]click[/link]"),
]


@pytest.mark.parametrize(("typed", "reason"), INJECTIONS)
async def test_markup_is_shown_literally(app: PutbackApp, typed: str, reason: str):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, typed)
        tone, text = result(app)
        assert tone is Tone.REFUSED
        assert reason in text
        assert typed in screen_text(app)
        await scan(pilot, "D-1001")  # the app carries on
        assert result(app)[0] is Tone.DONE


async def test_escape_sequences_are_refused_and_shown_escaped(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        # From a HID scanner the escape arrives as a character inside the text.
        app.post_message(ScanReceived("\x1b[2J", "hid"))
        await settle(pilot)
        tone, text = result(app)
        assert tone is Tone.REFUSED
        assert "Contains control character \\x1b: not a code" in text
        assert "\\x1b[2J" in screen_text(app)
        app.post_message(ScanReceived("D-10\x0002\x07", "hid"))
        await settle(pilot)
        assert "\\x00" in result(app)[1]
        # Through the keyboard, Esc is a key: it clears what was typed; the rest is refused.
        await scan(pilot, "\x1b[2J")
        assert result(app) == (
            Tone.REFUSED,
            "Not a known code: [2J. Scan an order.",
        )
        await scan(pilot, "D-1001")
        assert result(app)[0] is Tone.DONE


async def test_ten_thousand_characters_are_refused_without_harm(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "7" * 10_000)
        assert result(app) == (
            Tone.REFUSED,
            "Too long to be a code (10000 characters). Scanned: "
            + "7" * 80
            + "… (10000 chars). Scan an order.",
        )
        assert "… (10000 chars)" in screen_text(app)
        app.post_message(ScanReceived("[b]" * 3_400, "hid"))
        await settle(pilot)
        assert "Too long to be a code (10200 characters)" in result(app)[1]
        await scan(pilot, "D-1001")
        assert result(app)[0] is Tone.DONE


# -- scan rules ------------------------------------------------------------------------------


async def test_double_read_is_ignored_and_counted(
    app: PutbackApp, demo_ledger: Ledger, clock: SteppingClock
):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        await scan(pilot, SOCKS)
        await scan(pilot, "LOC:A-02-01")
        await scan(pilot, SOCKS)
        await scan(pilot, SOCKS, gap=0.05)  # the scanner read the same label twice
        assert "1 of 2 done" in result(app)[1]
        assert app.double_reads.dropped == 1
        assert "double reads ignored: 1" in screen_text(app)
        await scan(pilot, SOCKS, gap=0.5)  # a person scanning the next unit
        assert isinstance(app.screen, PutBackScreen)  # the socks line is done
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 10}, 10)


async def test_person_typing_slowly_is_a_scan_too(app: PutbackApp, clock: SteppingClock):
    received: list[ScanReceived] = []
    async with app.run_test(
        size=(100, 30),
        message_hook=lambda m: received.append(m) if isinstance(m, ScanReceived) else None,
    ) as pilot:
        await signed_in(pilot)
        for char in "D-1001":
            clock.advance(0.4)
            send_keys(app, char)
            await pilot.pause()
        assert "Typed: D-1001" in screen_text(app)
        clock.advance(0.8)
        send_keys(app, "\r")
        await settle(pilot)
        assert result(app)[1].startswith("Order D-1001 done")
    assert [(m.text, m.source) for m in received][-1] == ("D-1001", "typed")
    assert received[0].source == "keyboard"


async def test_scanned_enter_never_chooses_the_highlighted_line(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        # The cursor sits on TSHIRT; the scan of the socks ends in Enter.
        await scan(pilot, SOCKS)
        locations = [s for s in app.screen_stack if isinstance(s, LocationScreen)]
        assert len(locations) == 1
        assert locations[0].line.sku == "SOCKS-3PK"


async def test_arrows_and_enter_choose_a_line(app: PutbackApp, clock: SteppingClock):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        clock.advance(1)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LocationScreen)
        assert app.screen.line.sku == "SOCKS-3PK"


class ButtonScreen(Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.pressed = 0

    def compose(self) -> ComposeResult:
        yield Button("Press me", id="b")

    def on_button_pressed(self) -> None:
        self.pressed += 1


async def test_scanned_enter_never_presses_a_focused_button(
    app: PutbackApp, clock: SteppingClock
):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        screen = ButtonScreen()
        await app.push_screen(screen)
        screen.query_one(Button).focus()
        # Refused scans (nothing to unwind to): the Enter ending each must not press the button.
        await scan(pilot, "D-9999")
        await scan(pilot, "HELLO\r\n")  # CR LF suffix: the LF must not press either
        assert screen.pressed == 0
        clock.advance(1)
        await pilot.press("enter")  # the person's own Enter, a moment later, still works
        assert screen.pressed == 1


async def test_esc_backs_out_one_step_without_losing_anything(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        await scan(pilot, SOCKS)
        await scan(pilot, "LOC:A-02-01")
        await scan(pilot, SOCKS)
        send_keys(app, "12")
        await pilot.press("escape")  # clears the typing only
        await settle(pilot)
        assert isinstance(app.screen, LocationScreen)
        assert app.screen.location is not None
        await pilot.press("escape")  # forgets the location
        assert app.screen.location is None
        await pilot.press("escape")  # back to the list
        assert isinstance(app.screen, PutBackScreen)
        assert "1 of 2" not in screen_text(app)
        await pilot.press("escape")  # leaves the order
        assert isinstance(app.screen, OrderScreen)
        await pilot.press("escape")  # signs out
        assert isinstance(app.screen, SignInScreen)
        assert app.station.operator is None
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 9}, 9)


async def test_ctrl_z_undoes_the_last_put_back(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        await scan(pilot, BOTTLE)
        await scan(pilot, "LOC:B-01-01")
        await scan(pilot, BOTTLE)
        assert isinstance(app.screen, OrderScreen)
        assert stock_of(demo_ledger, "BOTTLE-1L") == ({"B-01-01": 5}, 5)
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert result(app) == (
            Tone.DONE,
            "Undone: 1 unit of BOTTLE-1L taken back out from B-01-01; put it back again "
            "when ready.",
        )
        assert isinstance(app.screen, PutBackScreen)
        assert stock_of(demo_ledger, "BOTTLE-1L") == ({"B-01-01": 4}, 4)
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert result(app) == (
            Tone.REFUSED,
            "No put-back of order D-1004 is left to undo.",
        )
    kinds = [e.kind.value for e in demo_ledger.entries()]
    assert kinds == ["put_back", "undo"]


async def test_f1_help_lists_keys_and_demo_codes_and_a_scan_goes_through(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpDialog)
        text = screen_text(app)
        assert "Ctrl+Z" in text
        assert "Demo codes" in text
        await scan(pilot, "D-1001")
        assert not isinstance(app.screen, HelpDialog)
        assert result(app)[1].startswith("Order D-1001 done")


# -- hooks for the scanner and sync workers ------------------------------------------------------


async def test_hid_scans_and_states_arrive_from_threads(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        assert "scanner: keyboard" in screen_text(app)

        def scanner() -> None:
            app.scanner_state_changed_from_thread("zebra", "connected", "")
            app.scan_from_thread("D-1001", "zebra")
            app.sync_state_changed_from_thread(
                True, 5, 0, datetime(2026, 11, 20, 14, 0, tzinfo=UTC), None
            )

        thread = threading.Thread(target=scanner)
        thread.start()
        thread.join()
        await settle(pilot)
        assert result(app)[1].startswith("Order D-1001 done")
        text = screen_text(app)
        assert "scanner zebra: connected" in text
        assert "online, last sync 14:00:00" in text
        assert "not sent: 5" in text
        app.scanner_state_changed_from_thread("zebra", "disconnected", "unplugged")
        await settle(pilot)
        assert "scanner zebra: disconnected (unplugged)" in screen_text(app)


async def test_status_bar_offline_placeholder_counts_entries(app: PutbackApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        text = screen_text(app)
        assert "offline (no central store configured)" in text
        assert "not sent: 0" in text
        await scan(pilot, "D-1001")
        assert "not sent: 1" in screen_text(app)


async def test_a_long_sync_error_never_hides_what_waits_to_be_sent(app: PutbackApp):
    """At 80 columns, offline with the connection's whole error: the bar cuts the error, not
    the entries waiting to be sent or the orders waiting (found in the demo: "not sent" and
    the worklist's counts were off the edge behind the URL and the errno).
    """
    async with app.run_test(size=(80, 24)) as pilot:
        await signed_in(pilot)
        error = "http://127.0.0.1:44011 unreachable: [Errno 111] Connection refused"
        app.sync_state_changed_from_thread(True, 3, 0, None, None)
        app.sync_state_changed_from_thread(False, 3, 0, None, error)
        await settle(pilot)
        [line] = [ln for ln in screen_text(app).splitlines() if "offline" in ln]
        assert line.strip().startswith("offline: http://127.0.0.1:44011")
        assert "…" in line
        assert "not sent: 3" in line
        assert "waiting" in line


async def test_an_order_scanned_on_the_location_step_replaces_the_steps_and_esc_goes_back_once(
    app: PutbackApp,
):
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        await scan(pilot, SOCKS)
        await scan(pilot, "LOC:A-02-01")
        assert isinstance(app.screen, LocationScreen)
        await scan(pilot, "D-1005")  # a live order, scanned in the middle of a put-back
        assert isinstance(app.screen, LiveOrderScreen)
        assert [type(s) for s in app.screen_stack[-2:]] == [OrderScreen, LiveOrderScreen]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OrderScreen)  # not back to the abandoned location step
        await scan(pilot, "D-1002")
        assert isinstance(app.screen, PutBackScreen)
        assert "SOCKS-3PK" in screen_text(app)  # nothing was put back: both lines still open


async def test_codes_typed_as_the_screen_shows_them(app: PutbackApp, demo_ledger: Ledger):
    """A damaged label: the operator types what the screen shows. The SKU and the location code
    (in any case) work like their barcodes; a made-up text is still refused by name.
    """
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        await scan(pilot, "TSHIRT-BLK-M")
        assert isinstance(app.screen, LocationScreen)
        await scan(pilot, "a-01-01")
        await scan(pilot, "tshirt-blk-m")
        assert result(app) == (
            Tone.DONE,
            "Put back 1 unit of TSHIRT-BLK-M to A-01-01: 1 of 1 done. Line done: scan the next "
            "item.",
        )
        await scan(pilot, "SOCKS-3PK")
        await scan(pilot, "A-03-02")
        assert result(app) == (
            Tone.REFUSED,
            "Not a known code: A-03-02. Scan the location.",
        )
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 11}, 7)
