"""Pilot tests of the supervisor tools on the demo data, stock checked afterwards.

Reject, cancel, force cancel, bulk reject, the exception area (move out), refused sync entries
and the report; each with the refusal an operator without the permission meets (named, and
recorded in the ledger). Typed answers go through the App's key buffer like scans; the
operator's own Enter comes a second after the last key (the stepping clock), as a person's does.
"""

from __future__ import annotations

import time

import pytest
from textual.pilot import Pilot

from putback_tui.config import Settings
from putback_tui.domain.entries import EntryKind
from putback_tui.domain.models import OrderStatus, Permission, RejectReason
from putback_tui.ledger import Ledger
from putback_tui.ledger.sync import Answer, record_answers
from putback_tui.station import Station
from putback_tui.tui.app import PutbackApp, make_app
from putback_tui.tui.dialogs.confirm import ConfirmDialog
from putback_tui.tui.dialogs.reject import RejectDialog
from putback_tui.tui.dialogs.resolve import ResolveDialog
from putback_tui.tui.screens.exception_area import ExceptionAreaScreen
from putback_tui.tui.screens.live_order import LiveOrderScreen
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.tui.screens.put_back import PutBackScreen
from putback_tui.tui.screens.refused import RefusedEntriesScreen
from putback_tui.tui.screens.report import ReportScreen
from putback_tui.tui.screens.supervisor import SupervisorScreen
from putback_tui.tui.state import Tone

from .conftest import FROZEN, SteppingClock, scan, screen_text, settle, stock_of

MUG, BOTTLE, TSHIRT = "5901234123457", "96385074", "4006381333931"


def result(app: PutbackApp) -> tuple[Tone, str]:
    assert app.result is not None
    return app.result.tone, app.result.text


def assert_refused_for_want_of(app: PutbackApp, permission: str) -> None:
    """The result line refuses the action because the role lacks ``permission``."""
    tone, text = result(app)
    assert tone is Tone.REFUSED
    assert f"permission '{permission}' is missing" in text


async def own_enter(pilot: Pilot[int]) -> None:
    """The operator's own Enter: a second after the last key, so it is no scan's terminator."""
    clock = pilot.app.monotonic  # type: ignore[attr-defined]
    assert isinstance(clock, SteppingClock)
    clock.advance(1.0)
    await pilot.press("enter")
    await settle(pilot)


async def key(pilot: Pilot[int], *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


async def sign_in(pilot: Pilot[int], badge: str) -> None:
    await settle(pilot)
    await scan(pilot, badge)
    assert isinstance(pilot.app.screen, OrderScreen)


def flat(app: PutbackApp) -> str:
    """The screen's words on one line: a dialog's sentences wrap inside its border."""
    return " ".join(screen_text(app).replace("┃", " ").replace("│", " ").split())


def kinds(ledger: Ledger) -> list[EntryKind]:
    return [e.kind for e in ledger.entries()]


def refusals(ledger: Ledger) -> list[str | None]:
    return [e.details.permission for e in ledger.entries() if e.kind is EntryKind.REFUSAL]


# -- reject an item ----------------------------------------------------------------------------


async def test_reject_mismatch_by_typed_number_and_quantity(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        assert isinstance(app.screen, LiveOrderScreen)
        await key(pilot, "f3")
        assert isinstance(app.screen, RejectDialog)
        assert "1  NOT IN STOCK" in screen_text(app)
        await scan(pilot, "2")  # MISMATCH
        assert app.screen.step == "quantity"
        await scan(pilot, "5")
        assert result(app)[0] is Tone.REFUSED
        assert "Quantity must be 1 to 2" in result(app)[1]
        await scan(pilot, "1")
        assert app.screen.step == "confirm"
        assert "Reject 1 unit of TSHIRT-BLK-M for MISMATCH." in screen_text(app)
        await own_enter(pilot)
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app) == (
            Tone.DONE,
            "Rejected 1 unit of TSHIRT-BLK-M (MISMATCH) from order D-1005: they leave this "
            "facility's queue; re-route requested from the central store.",
        )
        # The headline says how the order stands now, not "Nothing was changed."
        shown = screen_text(app)
        assert "1 unit rejected so far." in shown
        assert "Nothing was changed" not in shown
    [entry] = [e for e in demo_ledger.entries() if e.kind is EntryKind.REJECT]
    assert entry.details.reason is RejectReason.MISMATCH
    assert entry.details.reroute
    # release 1 (ATP 6 -> 7), then MISMATCH takes 1 from the home location and from ATP.
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 9}, 6)


async def test_reject_by_arrows_all_units_then_the_line_has_nothing_left(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        await scan(pilot, TSHIRT)  # highlights its line
        await key(pilot, "f3")
        await key(pilot, "down", "down")  # DAMAGE
        await own_enter(pilot)
        assert isinstance(app.screen, RejectDialog)
        assert app.screen.reason is RejectReason.DAMAGE
        await scan(pilot, "2")
        await own_enter(pilot)
        assert isinstance(app.screen, LiveOrderScreen)
        await key(pilot, "f3")
        assert result(app) == (
            Tone.REFUSED,
            "Line 1 (TSHIRT-BLK-M) has nothing unpicked left to reject.",
        )
        assert isinstance(app.screen, LiveOrderScreen)
    # DAMAGE: ATP + 2 (released) - 2; QOH unchanged.
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)
    assert demo_ledger.order("D-1005").lines[0].rejected == 2  # type: ignore[union-attr]


async def test_a_scanned_enter_never_confirms_and_esc_backs_out_step_by_step(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f3")
        await scan(pilot, "4")
        await scan(pilot, "2")
        assert app.screen.step == "confirm"  # type: ignore[attr-defined]
        await scan(pilot, TSHIRT)  # a scan's Enter, with the Reject button focused
        assert result(app)[0] is Tone.REFUSED
        assert isinstance(app.screen, RejectDialog)
        await key(pilot, "escape")
        assert app.screen.step == "quantity"
        await key(pilot, "escape")
        assert app.screen.step == "reason"
        await key(pilot, "escape")
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app) == (Tone.INFO, "Nothing was rejected.")
    assert kinds(demo_ledger) == []
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)


async def test_reject_refused_for_a_role_without_the_permission(demo_ledger: Ledger):
    settings = Settings(roles={"operator": [Permission.PUT_BACK]})
    app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=SteppingClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f3")
        assert isinstance(app.screen, LiveOrderScreen)
        assert_refused_for_want_of(app, "reject_item")
    assert refusals(demo_ledger) == ["reject_item"]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)


async def test_a_refusal_from_a_slow_station_call_is_shown_like_a_quick_one(
    demo_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A station call that outlasts the quick wait goes to a thread worker; its refusal ends
    that worker in an error the app itself reads and shows (``_wait_slow``). Every call slow
    here (0.2 s), as on a loaded machine: the refused bulk reject reads as it does when quick, and a
    test waiting for the app's workers is not handed that error.
    """
    app = make_app(demo_ledger, Settings(), clock=lambda: FROZEN, monotonic=SteppingClock())
    require = app.station.require

    def slow_require(*args: object) -> None:
        time.sleep(0.2)  # well past the quick wait (FAST_S): the call goes to a worker
        require(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(app.station, "require", slow_require)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await key(pilot, "f2")
        await scan(pilot, "1")
        assert isinstance(app.screen, SupervisorScreen)
        assert_refused_for_want_of(app, "bulk_reject")


# -- cancel and force cancel -------------------------------------------------------------------


async def test_operator_may_not_cancel_and_the_refusal_is_recorded(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f4")
        assert isinstance(app.screen, LiveOrderScreen)
        assert "permission 'cancel_order' is missing" in result(app)[1]
        await key(pilot, "f5")
        assert "permission 'force_cancel' is missing" in result(app)[1]
    assert refusals(demo_ledger) == ["cancel_order", "force_cancel"]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)


async def test_supervisor_cancels_an_order_with_nothing_picked(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f4")
        assert isinstance(app.screen, ConfirmDialog)
        assert "1 line, 2 units" in screen_text(app)
        await own_enter(pilot)
        assert isinstance(app.screen, OrderScreen)
        assert result(app) == (
            Tone.DONE,
            "Order D-1005 cancelled: 2 units returned to available stock.",
        )
        assert "Order D-1005 is cancelled." in screen_text(app)
    assert kinds(demo_ledger) == [EntryKind.CANCEL]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 8)


async def test_cancel_refused_when_something_is_picked(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1008")
        await key(pilot, "f4")
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app) == (
            Tone.REFUSED,
            "Order D-1008 has 1 unit picked: use force cancel, then put them back.",
        )
    assert kinds(demo_ledger) == []


async def test_force_cancel_releases_at_once_and_goes_straight_to_put_back(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1008")
        await key(pilot, "f5")
        assert isinstance(app.screen, ConfirmDialog)
        text = flat(app)
        assert "2 units not yet picked go back to available stock at once." in text
        assert "1 unit already picked must be put back" in text
        await own_enter(pilot)
        assert isinstance(app.screen, PutBackScreen)
        assert result(app) == (
            Tone.DONE,
            "Order D-1008 cancelled: 2 units returned to available stock, 1 unit to put back.",
        )
        assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 8}, 9)
        await scan(pilot, MUG)
        await scan(pilot, "LOC:A-01-02")
        await scan(pilot, MUG)
        assert isinstance(app.screen, OrderScreen)
        assert result(app)[1].startswith("Order D-1008 done: 1 unit put back")
    assert kinds(demo_ledger) == [EntryKind.FORCE_CANCEL, EntryKind.PUT_BACK]
    # MUG: 1 unpicked released (ATP 3 -> 4), 1 picked put back to A-01-02 (QOH 5 -> 6, ATP 5).
    assert stock_of(demo_ledger, "MUG-WHT") == ({"A-01-02": 6}, 5)


# -- supervisor menu: bulk reject --------------------------------------------------------------


async def test_bulk_reject_states_the_counts_then_finds_nothing_left(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await key(pilot, "f2")
        assert isinstance(app.screen, SupervisorScreen)
        await scan(pilot, "2")  # in progress: D-1008, 1 of 2 mugs picked, 1 pair of socks
        assert isinstance(app.screen, ConfirmDialog)
        assert "Bulk reject 1 in-progress order?" in screen_text(app)
        assert "1 order, 2 units not" in screen_text(app)  # "yet picked" wraps in the dialog
        await own_enter(pilot)
        assert result(app) == (
            Tone.DONE,
            "Bulk rejected 1 in-progress order: 2 units released, re-route requested from the "
            "central store.",
        )
        await scan(pilot, "1")  # open: D-1005, 2 T-shirts
        assert isinstance(app.screen, ConfirmDialog)
        assert "Bulk reject 1 open order?" in screen_text(app)
        assert "1 order, 2 units not yet" in screen_text(app)
        await own_enter(pilot)
        assert isinstance(app.screen, SupervisorScreen)
        assert result(app) == (
            Tone.DONE,
            "Bulk rejected 1 open order: 2 units released, re-route requested from the central "
            "store.",
        )
        await scan(pilot, "1")
        assert result(app) == (
            Tone.NOTICE,
            "No open orders at STORE-01: nothing to bulk reject.",
        )
        # Opened again, the rejected order says what became of its units: rejected, not
        # released (its summary had no column for them, and said "already released").
        await key(pilot, "escape")
        await scan(pilot, "D-1005")
        assert result(app)[1].startswith("Order D-1005 was rejected, ")
        [header] = [ln for ln in screen_text(app).splitlines() if "Put away to" in ln]
        assert header.split()[-5:] == ["Released", "Rejected", "Put", "away", "to"]
        [row] = [ln for ln in screen_text(app).splitlines() if "TSHIRT-BLK-M" in ln]
        assert row.split()[-4:] == ["0", "0", "0", "2"]  # picked, put back, released, rejected
    assert kinds(demo_ledger) == [EntryKind.BULK_REJECT, EntryKind.BULK_REJECT]
    assert demo_ledger.order("D-1005").status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert demo_ledger.order("D-1008").status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 8)
    # The picked mug waits for its put-back; the unpicked one and the socks are available again.
    assert stock_of(demo_ledger, "MUG-WHT") == ({"A-01-02": 5}, 4)
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 8}, 9)


async def test_bulk_reject_by_an_operator_is_refused_before_any_question(
    app: PutbackApp, demo_ledger: Ledger
):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await key(pilot, "f2")
        assert "(needs bulk_reject)" in screen_text(app)
        await key(pilot, "down")  # arrows and own Enter work too
        await own_enter(pilot)
        assert isinstance(app.screen, SupervisorScreen)
        assert "permission 'bulk_reject' is missing" in result(app)[1]
        await key(pilot, "escape")
        assert isinstance(app.screen, OrderScreen)
    assert refusals(demo_ledger) == ["bulk_reject"]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)


# -- exception area ----------------------------------------------------------------------------


async def test_put_back_into_the_exception_area_then_move_out(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1004")
        await scan(pilot, BOTTLE)
        await scan(pilot, "LOC:EX-01")
        await scan(pilot, BOTTLE)
        assert stock_of(demo_ledger, "BOTTLE-1L") == ({"B-01-01": 4, "EX-01": 1}, 4)
        await key(pilot, "f2")
        await scan(pilot, "3")
        assert isinstance(app.screen, ExceptionAreaScreen)
        text = screen_text(app)
        assert "EX-01" in text
        assert "BOTTLE-1L" in text
        await scan(pilot, BOTTLE)
        assert result(app) == (Tone.REFUSED, "Scan the exception location first.")
        await scan(pilot, "LOC:A-01-01")
        assert "storage location: scan an exception location" in result(app)[1]
        await scan(pilot, "LOC:EX-01")
        await scan(pilot, MUG)
        assert result(app) == (Tone.REFUSED, "No MUG-WHT sits in EX-01.")
        await scan(pilot, BOTTLE)
        await scan(pilot, "LOC:B-01-01")
        assert result(app) == (
            Tone.DONE,
            "Moved 1 unit of BOTTLE-1L from EX-01 to B-01-01: for sale again (ATP + 1).",
        )
        assert "nothing waits there" in screen_text(app)
    assert kinds(demo_ledger) == [EntryKind.PUT_BACK, EntryKind.MOVE_OUT]
    assert stock_of(demo_ledger, "BOTTLE-1L") == ({"B-01-01": 5, "EX-01": 0}, 5)


async def test_move_out_refused_for_a_role_without_the_permission(demo_ledger: Ledger):
    settings = Settings(roles={"operator": [Permission.PUT_BACK]})
    app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=SteppingClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await key(pilot, "f2")
        await scan(pilot, "3")
        assert isinstance(app.screen, SupervisorScreen)
        assert "permission 'move_out' is missing" in result(app)[1]
    assert refusals(demo_ledger) == ["move_out"]


# -- refused sync entries ----------------------------------------------------------------------


def refused_put_back(ledger: Ledger) -> str:
    """A put-back of two socks that the central store refused (as the sync worker records it)."""
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    station.open_order("D-1002")
    entry = station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    with ledger.write() as tx:
        record_answers(
            tx,
            [Answer(entry.seq, entry.entry_id, refused=True, reason="put-back of 2 would exceed "
                    "what was picked (another terminal put it back first)")],
        )
    return entry.entry_id


async def test_supervisor_resolves_a_refused_entry_as_units_found(
    app: PutbackApp, demo_ledger: Ledger
):
    refused_id = refused_put_back(demo_ledger)
    qoh, atp = stock_of(demo_ledger, "SOCKS-3PK")
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await key(pilot, "f2")
        await scan(pilot, "4")
        assert isinstance(app.screen, RefusedEntriesScreen)
        assert result(app)[1] == "1 refused by the central store, 1 to resolve."
        assert "open" in screen_text(app)
        await own_enter(pilot)  # the highlighted row
        assert isinstance(app.screen, ResolveDialog)
        assert "another terminal put it back first" in flat(app)
        await scan(pilot, "2")
        assert isinstance(app.screen, RefusedEntriesScreen)
        assert result(app) == (
            Tone.DONE,
            "Entry #1: 2 counted into EX-01, not for sale until moved out.",
        )
        assert "units found by SV-0001" in screen_text(app)
        await own_enter(pilot)
        assert result(app)[0] is Tone.NOTICE
    entries = demo_ledger.entries()
    assert refused_id in [e.entry_id for e in entries]  # nothing deleted
    assert entries[-1].kind is EntryKind.RESOLVE
    assert entries[-1].details.resolves == refused_id
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({**qoh, "EX-01": 2}, atp)


async def test_acknowledge_changes_no_stock_and_operators_are_refused(
    app: PutbackApp, demo_ledger: Ledger
):
    refused_put_back(demo_ledger)
    before = stock_of(demo_ledger, "SOCKS-3PK")
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await key(pilot, "f2")
        await scan(pilot, "4")
        assert "permission 'resolve_refused' is missing" in result(app)[1]
        await key(pilot, "escape")
        await scan(pilot, "SV-0001")
        await key(pilot, "f2")
        await scan(pilot, "4")
        await scan(pilot, "1")  # the entry's number
        assert isinstance(app.screen, ResolveDialog)
        await scan(pilot, "3")
        assert result(app) == (Tone.REFUSED, "Type 1 to 2 and Enter, or Esc.")
        await scan(pilot, "1")
        assert result(app) == (Tone.DONE, "Entry #1 acknowledged: no stock changed.")
    assert refusals(demo_ledger) == ["resolve_refused"]
    assert kinds(demo_ledger)[-1] is EntryKind.RESOLVE
    assert stock_of(demo_ledger, "SOCKS-3PK") == before


# -- report ------------------------------------------------------------------------------------


async def test_report_screen_builds_in_a_worker(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1001")
        await key(pilot, "f2")
        await scan(pilot, "5")
        assert isinstance(app.screen, ReportScreen)
        await settle(pilot)
        assert app.screen.report is not None
        text = screen_text(app)
        assert "Exceptions at STORE-01" in text
        assert "2026-11-20" in text
        assert result(app)[0] is Tone.DONE
        await scan(pilot, "2026-11-21")
        await settle(pilot)
        assert app.screen.report.since.isoformat() == "2026-11-21"  # type: ignore[union-attr]


async def test_report_refused_for_an_operator(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await key(pilot, "f2")
        await scan(pilot, "5")
        assert isinstance(app.screen, SupervisorScreen)
        assert "permission 'view_reports' is missing" in result(app)[1]
    assert refusals(demo_ledger) == ["view_reports"]
