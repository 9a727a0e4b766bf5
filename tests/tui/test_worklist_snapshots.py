"""Snapshots of the order screen's worklist: empty, short (every SLA state), long, two sizes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from textual.pilot import Pilot

from putback_tui.config import Settings
from putback_tui.domain.models import Order, OrderLine, OrderStatus
from putback_tui.ledger import Ledger, transaction
from putback_tui.tui.app import PutbackApp, make_app

from .conftest import FROZEN, SteppingClock, scan, settle

SIZES = [pytest.param((100, 30), id="100x30"), pytest.param((80, 24), id="80x24")]
SKUS = ("TSHIRT-BLK-M", "MUG-WHT", "SOCKS-3PK", "CAP-RED", "BOTTLE-1L")


@pytest.fixture(autouse=True)
def frozen_ledger_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Entries get the frozen time and are shown in UTC."""
    monkeypatch.setattr(transaction, "now_utc", lambda: FROZEN)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _orders(ledger: Ledger, orders: list[tuple[str, OrderStatus, int, str, int]]) -> None:
    """Add exception orders: (ID, status, minutes ago, SKU, units picked)."""
    with ledger.write() as tx:
        tx.upsert_orders(
            Order(
                order_id=order_id,
                facility="STORE-01",
                status=status,
                status_changed_at=FROZEN - timedelta(minutes=minutes),
                lines=(OrderLine(line_no=1, sku=sku, quantity=units, picked=units),),
            )
            for order_id, status, minutes, sku, units in orders
        )


def _app(ledger: Ledger) -> PutbackApp:
    return make_app(ledger, Settings(), clock=lambda: FROZEN, monotonic=SteppingClock())


async def _signed_in(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await scan(pilot, "OP-0001")
    await settle(pilot)


class TestWorklist:
    @pytest.mark.parametrize("size", SIZES)
    def test_empty(self, snap_compare, demo_ledger: Ledger, size):
        """You should see "Nothing waiting: no exception order here holds units to put back."
        under the how-to line, no table (its space left empty, the typed line and result at the
        bottom as always), and "0 waiting" in the status bar.
        """
        with demo_ledger.write() as tx:  # the four waiting orders are live again upstream
            tx.conn.execute(
                "UPDATE orders SET status = 'open' WHERE order_id IN "
                "('D-1002', 'D-1003', 'D-1004', 'D-1007')"
            )
        assert snap_compare(_app(demo_ledger), terminal_size=size, run_before=_signed_in)

    @pytest.mark.parametrize("size", SIZES)
    def test_short_with_every_sla_state(self, snap_compare, demo_ledger: Ledger, size):
        """You should see six waiting orders, most urgent first: the four demo orders overdue
        in bold red (D-1002 "overdue 4 h 05" on top, "493: +490 overdue, +3 for 3 units"), then
        X-2002 "due in 4 min" in yellow (failed 26 minutes ago, 2 bottles), then X-2001 "on time"
        in green; "Waiting: 6 orders, 4 overdue." above, "6 waiting, 4 overdue" in the status
        bar, the cursor on the top row.
        """
        _orders(
            demo_ledger,
            [
                ("X-2001", OrderStatus.CANCELLED, 5, "SOCKS-3PK", 1),
                ("X-2002", OrderStatus.FAILED, 26, "BOTTLE-1L", 2),
            ],
        )
        assert snap_compare(_app(demo_ledger), terminal_size=size, run_before=_signed_in)

    @pytest.mark.parametrize("size", SIZES)
    def test_long(self, snap_compare, demo_ledger: Ledger, size):
        """You should see "Waiting: 64 orders, 61 overdue." with as many rows as fit: D-1002
        and D-1003 on top, then the oldest generated orders (L-3000, 3 h 20, "overdue 2 h 50"),
        a "rows 1-16 of 50" note (1-10 at 80x24) in the header (the screen lists the 50 most
        urgent), and "64 waiting, 61 overdue" in the status bar (cut short at 80 columns).
        """
        _orders(
            demo_ledger,
            [
                (f"L-{3000 + i}", OrderStatus.CANCELLED, 200 - 3 * i, SKUS[i % 5], 1 + i % 3)
                for i in range(60)
            ],
        )
        assert snap_compare(_app(demo_ledger), terminal_size=size, run_before=_signed_in)
