"""Snapshots of the line-edit dialogs (F6 cancel line, F7 reduce quantity), at 100x30 and 80x24."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from putback_tui.config import ReasonSettings, Settings
from putback_tui.tui.app import PutbackApp, make_app

from .conftest import FROZEN, settle
from .test_line_edit_flows import _two_more_mug_orders
from .test_supervisor_snapshots import SIZES, frozen_ledger_time, steps

__all__ = ["frozen_ledger_time"]  # the autouse fixture, used here too


class TestCancelLineDialog:
    @pytest.mark.parametrize("size", SIZES)
    def test_reason(self, snap_compare, app: PutbackApp, size):
        """You should see a panel "Cancel a line of order D-1008" over the live order: "Line 2:
        SOCKS-3PK", "Ordered 1 · picked 0 · 1 unpicked and reserved", and the three default
        reasons numbered 1 CUSTOMER REQUEST, 2 PRICE ERROR, 3 DUPLICATE ORDER, the first
        highlighted; no buttons yet.
        """
        run = steps("SV-0001", "D-1008", "key:down", "key:f6")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_confirm_with_a_put_back(self, snap_compare, app: PutbackApp, size):
        """You should see "Cancel line 1 for CUSTOMER REQUEST." and the stock effect in words:
        1 unit not yet picked back to available stock (ATP + 1), QOH unchanged; 1 unit already
        picked to put back right away; a red "Cancel the line" button focused beside "Back
        (Esc)".
        """
        run = steps("SV-0001", "D-1008", "key:f6", "1")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_put_back_starts_right_away(self, snap_compare, app: PutbackApp, size):
        """You should see the put-back of order D-1008 (in progress): 1 unit on 1 line to put
        back, the mug (MUG-WHT) with 1 left and A-01-02 suggested, and the result line saying
        the line was cancelled, 1 unit returned to available stock and 1 to put back.
        """

        async def run_before(pilot: Pilot[int]) -> None:
            await steps("SV-0001", "D-1008", "key:f6", "1")(pilot)
            pilot.app.monotonic.advance(1.0)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)


class TestReduceLineDialog:
    @pytest.mark.parametrize("size", SIZES)
    def test_quantity(self, snap_compare, app: PutbackApp, size):
        """You should see "Reason: PRICE ERROR. New quantity? Type 0 to 1 and Enter (raising it
        needs the OMS)." and the typed line "Typed: 1▌" (typed, not yet ended with Enter).
        """

        async def run_before(pilot: Pilot[int]) -> None:
            await steps("SV-0001", "D-1005", "key:f7", "2")(pilot)
            await pilot.press("1")
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES)
    def test_confirm(self, snap_compare, app: PutbackApp, size):
        """You should see "Reduce line 1 from 2 to 1 for PRICE ERROR.", "Stock: 1 unit not yet
        picked goes back to available stock (ATP + 1); QOH unchanged.", the event-feed sentence,
        and a red "Reduce the line" button focused beside "Back (Esc)".
        """
        run = steps("SV-0001", "D-1005", "key:f7", "2", "1")
        assert snap_compare(app, terminal_size=size, run_before=run)

    @pytest.mark.parametrize("size", SIZES)
    def test_refused_without_edit_lines(self, snap_compare, app: PutbackApp, size):
        """You should see the live order D-1005 with the refusal in the result line: Ola Berg
        (OP-0001, operator) may not edit lines, permission 'edit_lines' is missing.
        """
        run = steps("OP-0001", "D-1005", "key:f7")
        assert snap_compare(app, terminal_size=size, run_before=run)


class TestNotInStockOffer:
    @pytest.mark.parametrize("size", SIZES)
    def test_offer(self, snap_compare, app: PutbackApp, demo_ledger, size):
        """You should see "Reject MUG-WHT on 2 other orders?": MUG-WHT is not in stock here,
        and 2 other open orders still reserve 3 units of it (D-2001, D-2002); a red "Reject on
        them too" button beside the way back; the result line behind says the mug of D-1008
        was rejected.
        """
        _two_more_mug_orders(demo_ledger)

        async def run_before(pilot: Pilot[int]) -> None:
            await steps("OP-0001", "D-1008", "key:f3", "1")(pilot)
            pilot.app.monotonic.advance(1.0)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await settle(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)


class TestOrderReasonDialog:
    @pytest.mark.parametrize("size", SIZES)
    def test_cancel_reason(self, snap_compare, demo_ledger, clock, size):
        """You should see "Cancel order D-1005: why?", "Cancelling order D-1005.", the site's
        two reasons numbered 1 OUT OF AREA and 2 FRAUD (the first highlighted), and how to
        answer; no buttons.
        """
        settings = Settings(
            reasons=ReasonSettings(cancel=["OUT OF AREA", "FRAUD"], mandatory=["cancel"])
        )
        app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=clock)
        run = steps("SV-0001", "D-1005", "key:f4")
        assert snap_compare(app, terminal_size=size, run_before=run)
