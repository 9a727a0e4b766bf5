"""Snapshots of claims: a worklist row another terminal is clearing, and the question asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from textual.pilot import Pilot

from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.tui.app import PutbackApp, make_app
from putback_tui.wire import Claim

from .conftest import FROZEN, SteppingClock, scan, settle

SIZES = [pytest.param((100, 30), id="100x30"), pytest.param((80, 24), id="80x24")]

CLAIM = Claim(
    order_id="D-1003",
    terminal="PACK-02",
    operator="SV-0001",
    since=FROZEN - timedelta(minutes=34),
    expires_at=FROZEN + timedelta(minutes=5),
)
"""PACK-02 has been clearing D-1003 since 13:31 (the worklist's second most urgent at 14:05)."""


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times are shown in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _app(ledger: Ledger) -> PutbackApp:
    return make_app(ledger, Settings(), clock=lambda: FROZEN, monotonic=SteppingClock())


async def _claimed(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await scan(pilot, "OP-0001")
    app = pilot.app
    assert isinstance(app, PutbackApp)
    app.claims_changed_from_thread([CLAIM])
    await settle(pilot)


async def _asked(pilot: Pilot[int]) -> None:
    await _claimed(pilot)
    await scan(pilot, "D-1003")


class TestClaims:
    @pytest.mark.parametrize("size", SIZES)
    def test_worklist_row_being_cleared_elsewhere(self, snap_compare, demo_ledger: Ledger, size):
        """You should see the four demo orders waiting, D-1002 on top as always; D-1003, the
        second most urgent, is the LAST row (another station is clearing it, so it comes after
        the orders nobody is clearing) and says "at PACK-02 · SV-0001 · since 13:31 · " then its
        score and why in its last column, all of it in bold cyan (cut short where space runs
        out: at 80x24 at least "at PACK-02 · SV-0001").
        """
        assert snap_compare(_app(demo_ledger), terminal_size=size, run_before=_claimed)

    @pytest.mark.parametrize("size", SIZES)
    def test_question_before_opening_a_claimed_order(
        self, snap_compare, demo_ledger: Ledger, size
    ):
        """You should see a dialog over the order screen titled "Order D-1003 is being cleared
        at PACK-02": "Order D-1003 is being cleared at PACK-02 by SV-0001 since 13:31.", what
        opening it does (this terminal takes the claim over, PACK-02 shows it; nothing is
        blocked), "Enter confirms. Esc goes back: nothing changes.", and two buttons, "Open it
        and take over" (focused) and "Back (Esc)".
        """
        assert snap_compare(_app(demo_ledger), terminal_size=size, run_before=_asked)
