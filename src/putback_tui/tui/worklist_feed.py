"""The worklist as the screens see it: read in the background, out of the way of every scan.

The list (:mod:`putback_tui.worklist`) is read again when a pull brings changes, when the
terminal's own entries change it, and once a minute (ages and SLA clocks move on). Every read
runs in a thread worker on a ledger connection of its own, and three rules keep it from ever
costing a scan its time:

- **Out of a scan's way.** Python runs one thread at a time: a read (30-50 ms of scoring on a
  list of 600 orders) running beside a scan would take turns with it and double the time the
  scan takes to show. So a read waits (:class:`ScanGate`) from the first key of a scan until its
  outcome is on screen, between any two orders it reads and inside a long query (SQLite's
  progress handler); a read asked for while a scan is being shown starts once it is shown.
- **Never twice at once.** One read at a time; requests that arrive meanwhile (a sync round
  after each put-back, the minute tick) become one more read after it.
- **Only when something changed.** The App says when something may have (a write that added an
  entry, a sync round, the minute), so the UI thread never reads the ledger to find out; the
  read then compares the pull cursor, the last entry and the minute with the previous read's
  (two indexed reads) and stops there when they are equal (an idle sync round).

A long list (:data:`HELPER_FROM_WAITING` orders or more) is read from then on by a helper
process (:mod:`putback_tui.worklist_process`): the reader thread then only waits on a pipe while
the list is scored, so a scan has Python to itself. Should the helper fail, the read is done in
the thread as before.

What a read brings is shown on every screen's status bar (how many wait, how many are overdue);
the order screen shows the list itself, and there the orders a pull brought are announced
("New exception: ...") with the bell. A read that finds the pull cursor moved also refreshes
the role map the screens dim actions by (``Station.refresh_roles``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual.worker import get_current_worker

from putback_tui.domain.wording import units as _units
from putback_tui.station import LedgerError
from putback_tui.worklist import Pause, Worklist
from putback_tui.worklist_process import HelperFailed, WorklistProcess

if TYPE_CHECKING:
    from putback_tui.tui.app import PutbackApp

GATE_MAX_WAIT_S = 2.0
"""The longest one read waits for scans in all: keys typed by hand with no Enter after them
(someone left the keyboard) hold a read up this long at most."""


HELPER_FROM_WAITING = 100
"""A read that finds this many waiting orders or more starts the helper process for the next
reads (a read of a short list takes about a millisecond: a thread does it)."""


class ScanGate:
    """Says whether the UI thread has a scan to show; background readers wait while it has.

    Thread-safe: the UI thread marks :meth:`busy` and :meth:`idle`, readers call the
    :meth:`pause` function they get from it between their steps.
    """

    def __init__(self, max_wait_s: float = GATE_MAX_WAIT_S) -> None:
        """Make an open gate.

        Args:
            max_wait_s: The longest one reader waits in all (see :data:`GATE_MAX_WAIT_S`).
        """
        self.max_wait_s = max_wait_s
        self._idle = threading.Event()
        self._idle.set()
        self._busy_since = 0.0
        self.mirror: Callable[[bool], None] | None = None
        """Told each change (True: busy): the helper process waits on a copy of the gate."""

    @property
    def is_idle(self) -> bool:
        """True when no scan is being handled, or its keys stopped long ago (no Enter came)."""
        return self._idle.is_set() or time.monotonic() - self._busy_since > self.max_wait_s

    def busy(self) -> None:
        """A scan started (its first key arrived): readers wait from their next step on."""
        if self._idle.is_set():
            self._busy_since = time.monotonic()
            self._idle.clear()
            if self.mirror is not None:
                self.mirror(True)

    def idle(self) -> None:
        """The scan's outcome is on screen (or the typing was cleared): readers go on."""
        if self.mirror is not None and not self._idle.is_set():
            self.mirror(False)
        self._idle.set()

    def pause(self, cancelled: Callable[[], bool] = lambda: False) -> Pause:
        """A pause function for one reader.

        It returns at once while no scan is handled, else waits until the scan is shown (at
        most ``max_wait_s`` over all its calls).

        Args:
            cancelled: True once the reader must stop: the pause then raises ``Cancelled``.
        """
        left = self.max_wait_s

        def pause() -> None:
            nonlocal left
            if cancelled():
                raise Cancelled
            if self._idle.is_set() or left <= 0:
                return
            start = time.monotonic()
            self._idle.wait(left)
            left -= time.monotonic() - start

        return pause


class Cancelled(Exception):
    """The reader was cancelled (the app is closing)."""


class WorklistFeed:
    """Reads the worklist for the App and hands it to the screens (see the module's text)."""

    def __init__(self, app: PutbackApp) -> None:
        """Attach to the app (the App makes one; the screens reach it through the App)."""
        self.app = app
        self.gate = ScanGate()
        self.worklist: Worklist | None = None
        """The waiting orders as last read (None until the first read)."""
        self._stale = True
        """Something the list depends on may have changed since the last read."""
        self._last_seq: int | None = None
        """The ledger's last entry as the App last saw it after a write."""
        self._version: tuple[object, ...] | None = None
        """What the last read depended on (read and written by the reader thread only)."""
        self._reading = False
        self._pending: bool | None = None
        """A read asked for while one was under way or a scan was being shown (True: forced);
        it starts once both are over."""
        self._waiting: set[str] | None = None
        """Every order of the last read (None before the first)."""
        self._unannounced: list[str] = []
        """Orders a pull brought that the order screen has not announced yet."""
        self._opened: set[str] = set()
        """Orders opened in this session: never announced as new."""
        self.helper_from = HELPER_FROM_WAITING
        """Waiting orders from which reads go to the helper process (see the module's text)."""
        self.helper_command: list[str] | None = None
        """The helper's command line (None: this Python, ``-m putback_tui.worklist_process``)."""
        self.helper: WorklistProcess | None = None
        """The helper process's handle, once a long list started it."""
        self._closed = False

    # -- requests (UI thread) --------------------------------------------------------------------

    def changed(self, last_seq: int | None = None) -> None:
        """Something the list depends on may have changed (a pull, the minute, an entry).

        Args:
            last_seq: After a write, the ledger's last entry: unchanged, nothing was written.
        """
        if last_seq is not None:
            if last_seq == self._last_seq:
                return
            self._last_seq = last_seq
        self._stale = True

    def refresh(self, *, force: bool = False) -> None:
        """Read the list again in the background, if anything it depends on may have changed.

        Never while a scan is being shown: then the read starts right after (:meth:`poll`).

        Args:
            force: Read it even if nothing seems to have changed.
        """
        if self.app.station.operator is None or not (force or self._stale):
            return
        if self._reading or not self.gate.is_idle:
            self._pending = force or bool(self._pending)
            return
        self._start(force)

    def poll(self) -> None:
        """Start a read asked for while a scan was shown or a read ran (after each scan)."""
        if self._pending is not None and not self._reading and self.gate.is_idle:
            force, self._pending = self._pending, None
            self.refresh(force=force)

    def opened(self, order_id: str) -> None:
        """An order the operator opened here: theirs, never announced as new."""
        self._opened.add(order_id)

    def _start(self, force: bool) -> None:
        self._reading = True
        self._stale = False
        now = self.app.clock()
        self.app.run_worker(
            lambda: self._read(now, force),
            thread=True,
            group="worklist",
            exit_on_error=False,
        )

    # -- the read (reader thread) ----------------------------------------------------------------

    def _read(self, now: datetime, force: bool) -> None:
        station = self.app.station
        try:
            worker = get_current_worker()
            pause = self.gate.pause(lambda: worker.is_cancelled)
            pause()
            cursor, last_seq = station.worklist_version()
            version = (cursor, last_seq, now.replace(second=0, microsecond=0))
            if not force and version == self._version:
                self.app.call_from_thread(self._done, None, False)
                return
            pulled = self._version is not None and cursor != self._version[0]
            if pulled:
                station.refresh_roles()
            worklist = self._read_list(now, pause)
            self._version = version
        except (Cancelled, LedgerError):
            # Closing, or the ledger could not be read: the last list stays; the next
            # request tries again (a ledger failure shows on the operator's next action).
            self._version = None
            self.app.call_from_thread(self._done, None, False, True)
            return
        self.app.call_from_thread(self._done, worklist, pulled)

    def _read_list(self, now: datetime, pause: Pause) -> Worklist:
        """The list: from the helper when one runs, else (or when it fails) read here."""
        helper = self.helper
        if helper is not None and helper.usable:
            try:
                return helper.read(now, pause=pause)
            except HelperFailed:
                pass  # read here this time; the next read starts a new helper
        worklist = self.app.station.worklist(now=now, pause=pause)
        if helper is None and worklist.waiting >= self.helper_from and not self._closed:
            station = self.app.station
            helper = self.helper = WorklistProcess(
                station.ledger.path,
                station.facility,
                station.settings.sla,
                station.settings.priority,
                command=self.helper_command,
            )
            self.gate.mirror = helper.scan_busy
            if self._closed:  # the app closed meanwhile: no helper after it
                helper.close()
            else:
                helper.start()  # it loads while the operator works; the next read asks it
        return worklist

    def close(self) -> None:
        """The app is closing: stop the helper process, and never start one again."""
        self._closed = True
        if self.helper is not None:
            self.helper.close()

    # -- results (UI thread) ---------------------------------------------------------------------

    def _done(self, worklist: Worklist | None, pulled: bool, failed: bool = False) -> None:
        self._reading = False
        self._stale = self._stale or failed
        if worklist is not None and self.app.station.operator is not None:
            self._show(worklist, pulled)
        self.poll()

    def _show(self, worklist: Worklist, pulled: bool) -> None:
        ids = {r.order_id for r in worklist.rows}
        if pulled and self._waiting is not None:
            # New on the list after a pull: news from the central store (the operator's own
            # actions never move the pull cursor).
            self._unannounced += [
                r.order_id
                for r in worklist.rows
                if r.order_id not in self._waiting and r.order_id not in self._unannounced
            ]
        self._waiting = ids
        self.worklist = worklist
        self.app.set_status(worklist=(worklist.waiting, worklist.overdue))
        self.app.navigator.show_worklist(worklist)
        self.announce()

    def announce(self) -> None:
        """On the order screen: say which new exceptions a pull brought, and ring once."""
        app = self.app
        if not app.navigator.on_order_screen() or self.worklist is None:
            return
        rows = {r.order_id: r for r in self.worklist.rows}
        fresh = [rows[i] for i in self._unannounced if i in rows and i not in self._opened]
        self._unannounced = []
        if not fresh:
            return
        first = fresh[0]
        units = _units(first.units_to_put_back)
        more = f" (and {len(fresh) - 1} more)" if len(fresh) > 1 else ""
        app.notice(f"New exception: {first.order_id} {first.kind_text}, {units} to put back{more}.")
        if app.settings.worklist.bell:
            app.bell()
