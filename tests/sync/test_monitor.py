"""The app's view of a sync service in another process: read from the ledger's bookkeeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from putback_tui.config import SyncSettings
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as bookkeeping
from putback_tui.station import Station
from putback_tui.sync.monitor import SyncMonitor
from putback_tui.sync.worker import SyncState

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_recent_success_is_online_and_waiting_counts_entries(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    with demo_ledger.write() as tx:
        bookkeeping.mark_success(tx, NOW - timedelta(seconds=5))
    monitor = SyncMonitor(
        demo_ledger.path, SyncSettings(), on_state=lambda s: None, clock=lambda: NOW
    )
    state = monitor.read(demo_ledger)
    assert (state.online, state.waiting, state.refused) == (True, 1, 0)
    assert state.last_success == NOW - timedelta(seconds=5)


def test_no_success_for_a_while_is_offline_with_a_reason(demo_ledger: Ledger) -> None:
    with demo_ledger.write() as tx:
        bookkeeping.mark_success(tx, NOW - timedelta(minutes=10))
    monitor = SyncMonitor(
        demo_ledger.path, SyncSettings(), on_state=lambda s: None, clock=lambda: NOW
    )
    state = monitor.read(demo_ledger)
    assert state.online is False
    assert state.last_error == "the sync service has not got through lately"


def test_the_thread_reports_and_stops(demo_ledger: Ledger) -> None:
    seen: list[SyncState] = []
    reported = threading.Event()

    def on_state(state: SyncState) -> None:
        seen.append(state)
        reported.set()

    monitor = SyncMonitor(demo_ledger.path, SyncSettings(), on_state=on_state, clock=lambda: NOW)
    monitor.start()
    assert reported.wait(5)
    monitor.stop()
    assert seen[0].online is False
    assert seen[0].last_success is None
