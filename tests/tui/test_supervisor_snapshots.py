"""Snapshots of the supervisor screens and dialogs, at 100x30 and at 80x24."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from textual.pilot import Pilot

from putback_tui.ledger import Ledger, transaction
from putback_tui.tui.app import PutbackApp

from .conftest import FROZEN, scan, settle
from .test_supervisor_flows import refused_put_back

SIZES = [pytest.param((100, 30), id="100x30"), pytest.param((80, 24), id="80x24")]
BOTTLE = "96385074"

Steps = Callable[[Pilot[int]], Awaitable[None]]


@pytest.fixture(autouse=True)
def frozen_ledger_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Entries get the frozen time and are shown in UTC: ages and dates stay put."""
    monkeypatch.setattr(transaction, "now_utc", lambda: FROZEN)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def steps(badge: str, *actions: str) -> Steps:
    """Sign in with ``badge``, then each action: ``key:<name>`` presses a key, else a scan."""

    async def run_before(pilot: Pilot[int]) -> None:
        await settle(pilot)
        await scan(pilot, badge)
        for action in actions:
            if action.startswith("key:"):
                pilot.app.monotonic.advance(1.0)  # type: ignore[attr-defined]
                await pilot.press(action[4:])
                await settle(pilot)
            else:
                await scan(pilot, action)

    return run_before


class TestRejectDialog:
    @pytest.mark.parametrize("size", SIZES)
    def test_reason(self, snap_compare, app: PutbackApp, size):
        """You should see a panel "Reject an item of order D-1005" over the live order:
        TSHIRT-BLK-M (T-shirt, black, size M), "2 unpicked can be rejected", and four numbered
        reasons with what each does to stock, the first highlighted; no buttons yet.
        """
        run = steps("OP-0001", "D-1005", "key:f3")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_quantity(self, snap_compare, app: PutbackApp, size):
        """You should see "Reason: DAMAGE. How many? Type 1 to 2 and Enter." and the typed
        line "Typed: 2▌" (typed, not yet ended with Enter).
        """

        async def run_before(pilot: Pilot[int]) -> None:
            await steps("OP-0001", "D-1005", "key:f3", "3")(pilot)
            await pilot.press("2")
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES)
    def test_confirm(self, snap_compare, app: PutbackApp, size):
        """You should see "Reject 2 units of TSHIRT-BLK-M for NOT IN STOCK.", what it does to
        stock (QOH of every location and ATP set to 0), the re-route sentence, and a red
        "Reject" button focused beside "Back (Esc)".
        """
        run = steps("OP-0001", "D-1005", "key:f3", "1", "2")
        assert snap_compare(app, terminal_size=size, run_before=run)


class TestLiveOrderActions:
    @pytest.mark.parametrize("size", SIZES)
    def test_after_reject(self, snap_compare, app: PutbackApp, size):
        """You should see D-1005 with "Rejected" 1 on its line and a green bar: "Rejected 1
        unit of TSHIRT-BLK-M (DAMAGE) from order D-1005: ... re-route requested ...".
        """
        run = steps("OP-0001", "D-1005", "key:f3", "3", "1", "key:enter")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_cancel_confirm(self, snap_compare, app: PutbackApp, size):
        """You should see "Cancel order D-1005?": "1 line, 2 units" back to available stock,
        "Enter confirms. Esc goes back", and the "Cancel the order" button focused.
        """
        run = steps("SV-0001", "D-1005", "key:f4")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_force_cancel_confirm(self, snap_compare, app: PutbackApp, size):
        """You should see "Force cancel order D-1008?": "2 units not yet picked go back to
        available stock at once", "1 unit already picked must be put back: the put-back starts
        right away", and a red "Force cancel" button focused.
        """
        run = steps("SV-0001", "D-1008", "key:f5")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_cancel_refused_without_permission(self, snap_compare, app: PutbackApp, size):
        """You should see D-1005 and a red bar naming the missing permission: "... may not
        cancel order: permission 'cancel_order' is missing. Ask a supervisor.".
        """
        run = steps("OP-0001", "D-1005", "key:f4")
        assert snap_compare(app, terminal_size=size, run_before=run)


class TestSupervisorScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_menu_for_a_supervisor(self, snap_compare, app: PutbackApp, size):
        """You should see five numbered entries (bulk reject open, bulk reject in progress,
        exception area, refused sync entries, report), none dimmed, the first highlighted.
        """
        run = steps("SV-0001", "key:f2")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_menu_for_an_operator(self, snap_compare, app: PutbackApp, size):
        """You should see the bulk rejects, refused entries and report dimmed with "(needs
        bulk_reject)", "(needs resolve_refused)", "(needs view_reports)"; the exception area is
        not dimmed; a red bar: "... permission 'bulk_reject' is missing ...".
        """
        run = steps("OP-0001", "key:f2", "1")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_bulk_reject_confirm(self, snap_compare, app: PutbackApp, size):
        """You should see "Bulk reject 1 open order?" with "1 order, 2 units not yet picked",
        what happens to stock, and a red "Reject 1 order" button focused.
        """
        run = steps("SV-0001", "key:f2", "1")
        assert snap_compare(app, terminal_size=size, run_before=run)


class TestExceptionAreaScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_move_out_in_progress(self, snap_compare, app: PutbackApp, size):
        """You should see "1 unit in 1 exception location", the row EX-01 BOTTLE-1L 1, there
        since 2026-11-20 14:05, waiting 0 min; steps 1 and 2 ticked, "From EX-01 · 1 unit of
        BOTTLE-1L · home B-01-01" in yellow, and the prompt "Scan the storage location
        (B-01-01)".
        """
        run = steps(
            "OP-0001", "D-1004", BOTTLE, "LOC:EX-01", BOTTLE, "key:f2", "3", "LOC:EX-01", BOTTLE
        )
        assert snap_compare(app, terminal_size=size, run_before=run)


class TestRefusedEntriesScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_list(self, snap_compare, app: PutbackApp, demo_ledger: Ledger, size):
        """You should see "1 refused by the central store, 1 open", and the row #1 with "open"
        in red, "put back, order D-1002, 2 x SOCKS-3PK, to A-02-01" and the reason (cut at the
        edge).
        """
        refused_put_back(demo_ledger)
        run = steps("SV-0001", "key:f2", "4")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_resolve_dialog(self, snap_compare, app: PutbackApp, demo_ledger: Ledger, size):
        """You should see "Resolve refused entry #1": the entry, who made it, "Refused: put-back
        of 2 would exceed what was picked ...", and two choices: 1 Acknowledge, 2 Units found
        (bring the 2 units to EX-01), the first highlighted.
        """
        refused_put_back(demo_ledger)
        run = steps("SV-0001", "key:f2", "4", "key:enter")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_resolved(self, snap_compare, app: PutbackApp, demo_ledger: Ledger, size):
        """You should see row #1 "units found by SV-0001" in green, and a green bar: "Entry #1:
        2 counted into EX-01, not for sale until moved out.".
        """
        refused_put_back(demo_ledger)
        run = steps("SV-0001", "key:f2", "4", "key:enter", "2")
        assert snap_compare(app, terminal_size=size, run_before=run)


class TestReportScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_report(self, snap_compare, app: PutbackApp, size):
        """You should see the prompt 'Exception patterns: a day (YYYY-MM-DD) and Enter for
        "since"; Esc goes back' whole, "Exceptions at STORE-01, all days", the chart line for
        2026-11-20 (C C D F F, 5) with its legend, the table by kind and reason, "Top rejected
        products: none", ageing (2 cleared) and "Still open" (scroll for the rest at 80x24);
        green bar "Report: ...".
        """
        run = steps("SV-0001", "D-1001", "D-1003", "5901234123457", "LOC:A-01-02", "2",
                    "5901234123457", "key:f2", "5")
        assert snap_compare(app, terminal_size=size, run_before=run)
