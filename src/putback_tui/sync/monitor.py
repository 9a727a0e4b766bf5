"""SyncMonitor: the sync state read from the ledger, for an app whose sync runs elsewhere.

On a kiosk terminal ``putback-sync.service`` does the syncing in its own process, so it keeps
going while the app restarts. The app then only needs to show what that worker achieved; the
worker records it in the ledger (entries answered, refused, the last successful round), and
this thread reads it every few seconds through its own connection.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from putback_tui.config import SyncSettings
from putback_tui.ledger import Ledger, LedgerError, now_utc
from putback_tui.ledger import sync as bookkeeping
from putback_tui.sync.worker import SyncState


class SyncMonitor:
    """Reports :class:`SyncState` from the ledger's sync bookkeeping, on its own thread."""

    def __init__(
        self,
        db_path: Path,
        settings: SyncSettings,
        *,
        on_state: Callable[[SyncState], None],
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.db_path = db_path
        self.settings = settings
        self.on_state = on_state
        self.clock = clock
        self.every_s = min(settings.interval_s, 5.0)
        # A round more than three intervals old (30 s at least) means the worker is not getting
        # through: offline, as far as anyone at the terminal can tell.
        self.stale_after = timedelta(seconds=max(3 * settings.interval_s, 30.0))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self, ledger: Ledger) -> SyncState:
        """The state as the ledger records it now."""
        with ledger.read() as tx:
            counts = bookkeeping.counts(tx)
        last = counts.last_success
        online = last is not None and self.clock() - last <= self.stale_after
        failure = counts.failure
        return SyncState(
            online=online,
            waiting=counts.waiting,
            refused=counts.refused,
            last_success=last,
            last_error=None if online else "the sync service has not got through lately",
            failing=(
                failure.describe()
                if failure and failure.shows(self.settings.failure_rounds)
                else None
            ),
        )

    def start(self) -> None:
        """Start reading (immediately, then every few seconds)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="putback-sync-monitor", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _loop(self) -> None:
        try:
            ledger = Ledger(self.db_path, create=False)
        except LedgerError:
            return
        try:
            while not self._stop.is_set():
                # Locked for a moment by a writer: the next reading will do.
                with contextlib.suppress(LedgerError):
                    self.on_state(self.read(ledger))
                self._stop.wait(self.every_s)
        finally:
            ledger.close()
