"""The putback App: turns keys into scans, routes scans to the screen in front, owns the status.

Scans enter in one place. Keyboard-wedge scanners and people typing both arrive as key events;
:meth:`PutbackApp.on_event` takes every printable key, Enter, Tab, Backspace and (while
something is typed) Esc *before* Textual forwards keys to the focused widget, buffers them, and
turns a terminated buffer into one :class:`ScanReceived`. So a scanned Enter never reaches a
focused button or table, and long bursts arrive intact (an ``Input`` widget drops or merges them:
see STYLE.md). HID scanners post the same message through :meth:`PutbackApp.scan_from_thread`.

Scans are handled one at a time, in arrival order: :meth:`on_scan_received` awaits the station
call (on the station thread) before the App takes its next message, so no scan is lost or
reordered while the ledger writes; a slow write is waited for in a worker, painting meanwhile.

Over 600 lines as one unit: Textual puts the key events, the screen stack, the workers and the
timers on the App object, and the scan path runs through all of them. Which screen follows which
lives in :mod:`putback_tui.tui.navigation`; the screens in ``screens/``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar, runtime_checkable

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.worker import WorkerFailed

from putback_tui.barcodes import InvalidCode, classify
from putback_tui.config import Settings
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import now_utc
from putback_tui.station import LedgerError, Station
from putback_tui.tui.dialogs.base import ScanDialog
from putback_tui.tui.idle_gc import IdleCollector
from putback_tui.tui.messages import (
    ClaimHeldElsewhere,
    ClaimsChanged,
    OrderOpened,
    ScannerStateChanged,
    ScanReceived,
    ScanRefused,
    SyncStateChanged,
)
from putback_tui.tui.navigation import Navigator
from putback_tui.tui.screens.base import ScanScreen
from putback_tui.tui.state import Result, ScannerStatus, Status, SyncStatus, Tone
from putback_tui.tui.wedge import DoubleReadFilter, WedgeBuffer
from putback_tui.tui.worklist_feed import WorklistFeed
from putback_tui.wire import Claim
from putback_tui.worklist import Worklist

if TYPE_CHECKING:
    from putback_tui.ledger import Ledger

T = TypeVar("T")
S = TypeVar("S", bound=Screen[None])

TERMINATORS = frozenset({"enter", "tab", "ctrl+j", "ctrl+m"})
"""Keys that end a scan. ``ctrl+j`` is a bare LF, sent by scanners configured for CR LF."""

FAST_S = 0.015
"""How long the UI thread waits for a station call before it yields and paints meanwhile: under
one frame, and well above a normal commit (0.2-4 ms), so only a locked or stalled ledger yields."""

SAVING_AFTER_S = 0.15
"""Show "saving…" only for writes slower than this: a normal 0.2 ms commit must not flicker."""


class BackgroundService(Protocol):
    """A service with its own thread that the app starts and stops (scanners, sync)."""

    def start(self) -> None:
        """Start the service's thread; must not block."""
        ...

    def stop(self) -> None:
        """Stop and release everything; may wait briefly for the thread."""
        ...


@runtime_checkable
class ClaimService(Protocol):
    """Keeps this terminal's claim on the order in hand (``sync.claims.ClaimKeeper``).

    Every method only records the wish and returns at once: the calls to the central store
    happen on the service's own thread.
    """

    def hold(self, order_id: str, operator: str, *, take_over: bool = False) -> None:
        """The operator has ``order_id`` in hand (``take_over``: confirmed over another's)."""
        ...

    def release(self) -> None:
        """No order in hand any more."""
        ...

    def activity(self, at: float | None = None) -> None:
        """The operator did something."""
        ...


class PutbackApp(App[int]):
    """The packing-station app. Services come in through the constructor (see ``make_app``)."""

    CSS_PATH = Path(__file__).with_name("putback.tcss")
    """Absolute, so subclasses defined elsewhere (benchmarks) find it too."""
    TITLE = "putback"
    ENABLE_COMMAND_PALETTE = False
    """The palette would take typed keys away from the scan buffer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", priority=True),
        # Not in the footer: every existing screen's footer (and snapshot) stays as it was; F1
        # help and the supervisor guide list it.
        Binding("f2", "supervisor", "Supervisor", priority=True, show=False),
        Binding("ctrl+z", "undo", "Undo put-back", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    """App-wide keys. Priority, so no focused widget can take them; none is printable, so none
    can be part of a scan."""

    def __init__(
        self,
        station: Station,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = now_utc,
        monotonic: Callable[[], float] = time.monotonic,
        demo: bool = False,
        services: Sequence[BackgroundService] = (),
    ) -> None:
        """Build the app around its services.

        Args:
            station: The one service every action goes through.
            settings: The validated configuration (code patterns, scan timings, sync).
            clock: Wall-clock time for the status bar (injected so snapshots are stable).
            monotonic: Seconds for key gaps and double reads (injected so tests can step it).
            demo: True on the demo data set: the help panel lists the demo codes.
            services: Background services (HID scanners, the sync worker) the app starts on
                mount and stops on unmount; each reports back through the ``*_from_thread``
                hooks. One that has ``nudge()`` is nudged after every confirmed write.
        """
        super().__init__()
        self.station = station
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self.demo = demo
        self.wedge = WedgeBuffer(settings.scan.wedge_max_gap_ms / 1000)
        self.double_reads = DoubleReadFilter(settings.scan.double_read_ms / 1000)
        self.result: Result | None = None
        """The last result; every screen's result line shows it."""
        self.status = Status(
            facility=station.facility,
            terminal=station.terminal,
            now=clock(),
            sync=SyncStatus(configured=settings.sync.url is not None),
        )
        self.services = tuple(services)
        self.idle_gc = IdleCollector(monotonic)
        """Full garbage collections wait for a pause between scans (see ``idle_gc``)."""
        self.navigator = Navigator(self)
        """Which screen follows which (see ``navigation``)."""
        self._sync_reported = False
        self._echo_pending = False
        self._saving_timer: Timer | None = None
        self._station_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="station"
        )
        """Every station call runs here, one at a time and in order (see ``call_station``)."""
        self.worklist_feed = WorklistFeed(self)
        """The worklist, read in the background out of the scans' way (see ``worklist_feed``)."""
        self.claims: dict[str, Claim] = {}
        """Other terminals' claims on this facility's orders, by order, as last read (empty
        while not known: offline, or no central store)."""
        self._take_over: set[str] = set()
        """Orders opened here over another terminal's claim, once confirmed: asked once."""
        self._claimer: ClaimService | None = None
        self._claimer_for: Sequence[BackgroundService] | None = None

    @property
    def ledger(self) -> Ledger:
        """The station's ledger (read only for the count of entries not yet sent)."""
        return self.station.ledger

    # -- lifecycle -----------------------------------------------------------------------------

    async def on_mount(self) -> None:
        """Start signed out, ready for a badge scan."""
        self.set_interval(1.0, self._tick)
        waiting = self.ledger.last_seq()
        self.set_status(sync=self._placeholder_sync(waiting))
        self.screen_change_signal.subscribe(self, self._claim_in_hand)
        await self.navigator.start()
        for service in self.services:
            service.start()
        # After the first paint: the full collection before the freeze takes tens of ms.
        self.call_after_refresh(self.idle_gc.start)

    def on_unmount(self) -> None:
        """Stop the background services: scanner grabs released, sync thread joined.

        A station call still running (a write waiting on a locked ledger) is let finish.
        """
        self.worklist_feed.gate.idle()  # a read waiting for a scan goes on, and sees it must stop
        for service in self.services:
            service.stop()
        self._station_thread.shutdown(wait=True)
        self.worklist_feed.close()  # its helper process ends with the app
        self.idle_gc.stop()

    def _tick(self) -> None:
        self.idle_gc.tick()
        now = self.clock()
        if now.replace(second=0, microsecond=0) != self.status.now.replace(second=0, microsecond=0):
            self.set_status(now=now)
            self.worklist_feed.changed()  # ages and SLA clocks move on
            self.refresh_worklist()
        self.worklist_feed.poll()  # a read held back by keys typed with no Enter after them

    # -- the worklist ----------------------------------------------------------------------------

    @property
    def worklist(self) -> Worklist | None:
        """The waiting orders as last read (None until the first read)."""
        return self.worklist_feed.worklist

    def refresh_worklist(self, *, force: bool = False) -> None:
        """Read the worklist again, in the background, if anything it depends on changed.

        See :class:`~putback_tui.tui.worklist_feed.WorklistFeed`: the read never holds up a
        scan, runs one at a time, and stops early when nothing changed.

        Args:
            force: Read it even if nothing seems to have changed.
        """
        self.worklist_feed.refresh(force=force)

    def announce_new_exceptions(self) -> None:
        """On the order screen: say which new exceptions a pull brought, and ring once."""
        self.worklist_feed.announce()

    def on_order_opened(self, message: OrderOpened) -> None:
        """An order opened here is the operator's own: never announced as new."""
        self.worklist_feed.opened(message.view.order.order_id)

    # -- key buffer: the one place keys become scans -------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        """Take scan keys before Textual forwards them to the focused widget."""
        if isinstance(event, events.Key) and not event.is_forwarded and self._take_key(event):
            event.stop()
            return
        await super().on_event(event)

    def _take_key(self, event: events.Key) -> bool:
        """Buffer a key; True when the key was a scan's and must go no further."""
        now = self.monotonic()
        self.idle_gc.activity(now)
        if (claimer := self.claimer) is not None:
            claimer.activity(now)
        key = event.key
        if key in TERMINATORS:
            done = self.wedge.terminate(now)
            if done is None:
                # Empty: the operator's own Enter (choose a line), unless it is the LF of a
                # scanner's CR LF suffix arriving hot on the heels of the scan.
                return self.wedge.swallows(now)
            self._echo()
            source = "keyboard" if done.burst else "typed"
            self.idle_gc.hold()  # no garbage collection until the outcome is on screen
            self.post_message(ScanReceived(done.text, source, at=now))
            return True
        if key == "escape" and self.wedge:
            self.wedge.clear()
            self.worklist_feed.gate.idle()  # nothing typed any more: no scan to wait for
            self._echo()
            return True
        if key == "backspace" and self.wedge:
            self.wedge.backspace()
            self._echo()
            return True
        if event.is_printable and event.character:
            self.wedge.feed(event.character, now)
            # A scan is arriving: a worklist read in the background waits until it is shown.
            self.worklist_feed.gate.busy()
            self._echo()
            return True
        return False

    def _echo(self) -> None:
        # Coalesced: a 10,000-key burst queues one redraw after its last key, not 10,000.
        if not self._echo_pending:
            self._echo_pending = True
            self.call_later(self._flush_echo)

    def _flush_echo(self) -> None:
        self._echo_pending = False
        screen = self._scan_screen()
        if screen is not None:
            screen.show_typed(self.wedge.text)
        if isinstance(self.screen, ScanDialog):
            self.screen.show_typed(self.wedge.text)

    # -- scans ---------------------------------------------------------------------------------

    def scan_from_thread(self, text: str, source: str) -> None:
        """Deliver a complete scan from a scanner thread (thread-safe, never blocks).

        Args:
            text: The decoded scan, terminator removed.
            source: The scanner's name, shown in logs and tests.
        """
        self.worklist_feed.gate.busy()
        self.post_message(ScanReceived(text, source, at=self.monotonic()))

    async def on_scan_received(self, message: ScanReceived) -> None:
        """Drop double reads, classify, and hand the scan to the screen in front."""
        self.worklist_feed.gate.busy()  # until ``_scan_shown``
        self.idle_gc.hold()  # (a scanner thread's scan) no collection until it is shown
        at = message.at if message.at is not None else self.monotonic()
        self.idle_gc.activity(at)
        if not self.double_reads.accept(message.text, at):
            self.set_status(double_reads=self.double_reads.dropped)
            self.call_after_refresh(self._scan_shown, message.text)
            return
        scan = classify(message.text, self.settings.codes)
        if (
            isinstance(scan, InvalidCode)
            and self.station.operator is not None
            and not isinstance(self.screen, ScanDialog)
        ):
            # A location or SKU typed as the screen shows it (A-01-01, TSHIRT-BLK-M); a
            # question in front (a quantity, a lot) keeps its typed answer as it is.
            with contextlib.suppress(LedgerError):
                typed = await self.call_station(
                    partial(self.station.typed_code, message.text), group="lookup", write=False
                )
                if typed is not None:
                    scan = typed
        if isinstance(self.screen, ScanDialog):
            # A question in front takes typed answers itself (and refuses other scans).
            await self.screen.handle_scan(scan, message.text)
            self.call_after_refresh(self._scan_shown, message.text)
            return
        # Scan anywhere: a help panel in front gives way to the screen doing the work.
        while isinstance(self.screen, ModalScreen):
            await self.pop_screen()
        screen = self._scan_screen()
        if screen is not None:
            await screen.handle_scan(scan, message.text)
        self.call_after_refresh(self._scan_shown, message.text)
        self._claim_in_hand()  # a scanned order may have replaced the one in hand

    def _scan_shown(self, text: str) -> None:
        self.worklist_feed.gate.idle()
        self.scan_shown(text)
        self.idle_gc.release()  # the collections held back run now, after the scan
        self.worklist_feed.poll()  # a read the scan asked for (or held back) starts now

    def scan_shown(self, text: str) -> None:
        """Called once the screen shows the outcome of a scan; a no-op hook for benchmarks.

        Args:
            text: The scan's text.
        """

    def reusable(self, screen_type: type[S]) -> S:
        """The one instance of a working screen, installed on first use and kept mounted.

        Mounting a screen with its table costs 50-200 ms; pushing one already mounted costs
        a repaint. So each screen is built once and loaded with new content before each push.
        """
        name = screen_type.__name__
        if not self.is_screen_installed(name):
            self.install_screen(screen_type(), name)
        screen = self.get_screen(name)
        assert isinstance(screen, screen_type)
        return screen

    async def bring_forward(self, base: Screen[None], target: Screen[None] | None = None) -> None:
        """Unwind the screen stack down to ``base`` and push ``target`` (if any) on top of it.

        One repaint shows the outcome: the screens passed on the way are never painted (each
        would cost a frame of 5-10 ms). A ``target`` already on top of ``base`` stays as it is.

        Args:
            base: A screen on the stack (the order screen, or the list of lines).
            target: The screen to show on top of ``base``; None to show ``base`` itself.
        """

        def arrived() -> bool:
            stack = self.screen_stack
            if target is None:
                return stack[-1] is base
            return stack[-1] is target and len(stack) > 1 and stack[-2] is base

        if arrived():
            return
        with self.batch_update():
            # Each pop resumes the screen below it: stop one above ``base`` and replace that one.
            while self.screen is not base and self.screen_stack[-2] is not base:
                await self.pop_screen()
            if target is None:
                if self.screen is not base:
                    await self.pop_screen()
            elif self.screen is base:
                await self.push_screen(target)
            else:
                await self.switch_screen(target)
        self.screen.check_idle()  # the batch held back the repaint: ask for it now

    @property
    def _background_screens(self) -> list[Screen[object]]:
        """The screens that show through the one in front: none behind an opaque screen.

        Textual always counts the screen just below the top one, even when the top one is
        opaque, and repaints the top one wherever the screen below changes. The working screens
        are stacked (order, lines, location) and refill those below them as put-backs land: each
        refill repainted most of the screen in front (a table's area, 3-5 ms) for nothing. A
        dialog (translucent) still gets the screens behind it.
        """
        if self.screen_stack and self.screen.styles.background.a == 1:
            return []
        return super()._background_screens

    def _scan_screen(self) -> ScanScreen | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, ScanScreen):
                return screen
        return None

    # -- results -------------------------------------------------------------------------------

    def show(self, result: Result) -> None:
        """Show a result on the result line of the screen in front (and of any screen later)."""
        self.result = result
        screen = self._scan_screen()
        if screen is not None:
            screen.show_result(result)
        if isinstance(self.screen, ScanDialog):
            self.screen.show_result(result)

    def done(self, text: str) -> None:
        """Show a green result."""
        self.show(Result(Tone.DONE, text))

    def info(self, text: str) -> None:
        """Show a neutral result: what to do next."""
        self.show(Result(Tone.INFO, text))

    def notice(self, text: str) -> None:
        """Show an amber result: nothing to do, nothing changed."""
        self.show(Result(Tone.NOTICE, text))

    def refuse(self, text: str, code: str = "refused") -> None:
        """Show a red result with the reason, and ring the bell.

        Args:
            text: The reason, in words (plain text; may quote escaped scanned text).
            code: The refusal's stable name, for the :class:`ScanRefused` message.
        """
        self.show(Result(Tone.REFUSED, text))
        self.bell()
        self.post_message(ScanRefused(text, code))

    # -- station calls -------------------------------------------------------------------------

    async def call_station(self, call: Callable[[], T], *, group: str, write: bool = True) -> T:
        """Run a station call on the station thread and wait for it.

        Calls run one at a time, in order, on one thread of their own. A normal call (a read,
        or a 0.2-4 ms commit) is back within ``FAST_S``: the UI thread waits for it and carries
        on without yielding, so the screen goes straight from the scan to its outcome with no
        half-updated paint between (and no worker round trip). A slower one (another program
        holding the ledger locked: up to the 2 s busy timeout) is waited for in a thread worker
        of ``group`` while the UI keeps painting; one that outlasts ``SAVING_AFTER_S`` shows
        "saving…".

        Args:
            call: The station call, with its arguments bound.
            group: The worker group (``open``, ``put-back``, ``undo``, ``lookup``...).
            write: True when the call writes: the count of entries not yet sent is refreshed.

        Returns:
            What the call returned.

        Raises:
            Refused: The station refused (nothing changed).
            LedgerError: The ledger could not be used (nothing changed).
        """

        def run() -> tuple[T, int | None]:
            value = call()
            return value, (self.ledger.last_seq() if write else None)

        future = self._station_thread.submit(run)
        try:
            value, last_seq = future.result(timeout=FAST_S)
        except concurrent.futures.TimeoutError:
            value, last_seq = await self._wait_slow(future, group=group, write=write)
        if last_seq is not None:
            self.worklist_feed.changed(last_seq)
            if not self._sync_reported:
                self.set_status(sync=self._placeholder_sync(last_seq))
        if write:
            for service in self.services:
                nudge = getattr(service, "nudge", None)
                if nudge is not None:
                    nudge()
        return value

    async def _wait_slow(
        self, future: concurrent.futures.Future[tuple[T, int | None]], *, group: str, write: bool
    ) -> tuple[T, int | None]:
        """Wait for a slow station call in a thread worker, painting meanwhile."""
        if write:
            self._saving_timer = self.set_timer(SAVING_AFTER_S, self._show_saving)
        worker = self.run_worker(future.result, thread=True, group=group, exit_on_error=False)
        try:
            return await worker.wait()
        except WorkerFailed as failed:
            raise failed.error from None
        finally:
            if self._saving_timer is not None:
                self._saving_timer.stop()
                self._saving_timer = None
                if self.status.busy:
                    self.set_status(busy=False)

    async def attempt(self, call: Callable[[], T], *, group: str, write: bool = True) -> T | None:
        """:meth:`call_station`, showing a refusal or ledger failure instead of raising.

        Returns:
            What the call returned, or None when it was refused (the reason is on screen).
        """
        try:
            return await self.call_station(call, group=group, write=write)
        except Refused as refused:
            self.refuse(str(refused), refused.code)
        except LedgerError as failed:
            self.refuse(str(failed), "ledger_error")
        return None

    def _show_saving(self) -> None:
        self.set_status(busy=True)

    # -- status --------------------------------------------------------------------------------

    def set_status(self, **changes: object) -> None:
        """Change the status bar's facts and redraw every status bar."""
        from dataclasses import replace

        self.status = replace(self.status, **changes)  # type: ignore[arg-type]
        screen = self._scan_screen()
        if screen is not None:
            screen.show_status(self.status)

    def _placeholder_sync(self, waiting: int) -> SyncStatus:
        # Until the sync worker reports, nothing has been sent: every entry waits.
        return SyncStatus(configured=self.settings.sync.url is not None, waiting=waiting)

    def scanner_state_changed_from_thread(self, name: str, status: str, message: str) -> None:
        """Report a HID scanner's state from its thread (thread-safe, never blocks).

        Args:
            name: The scanner's name as configured.
            status: ``connected``, ``ready``, ``disconnected``, ``error``...
            message: Details for the status bar (e.g. why it failed).
        """
        self.post_message(ScannerStateChanged(name, status, message))

    def on_scanner_state_changed(self, message: ScannerStateChanged) -> None:
        """Show the scanner's new state; a configured HID scanner replaces "keyboard"."""
        others = tuple(s for s in self.status.scanners if s.name not in (message.name, "keyboard"))
        self.set_status(
            scanners=(*others, ScannerStatus(message.name, message.status, message.message))
        )

    def sync_state_changed_from_thread(
        self,
        online: bool,
        waiting: int,
        refused: int,
        last_success: datetime | None,
        last_error: str | None,
        failing: str | None = None,
    ) -> None:
        """Report the sync worker's state from its thread (thread-safe, never blocks).

        Args:
            online: True while the central store answers.
            waiting: Ledger entries not yet accepted by the central store.
            refused: Entries the central store refused.
            last_success: When the last sync round succeeded (timezone-aware), if ever.
            last_error: The last failure, in words, if any.
            failing: A sync step failing round after round at the same entry, if any.
        """
        self.post_message(
            SyncStateChanged(online, waiting, refused, last_success, last_error, failing)
        )

    def on_sync_state_changed(self, message: SyncStateChanged) -> None:
        """Show the sync worker's report; from now on it owns the "not sent" count."""
        self._sync_reported = True
        self.set_status(
            sync=SyncStatus(
                configured=True,
                online=message.online,
                waiting=message.waiting,
                refused=message.refused,
                last_success=message.last_success,
                last_error=message.last_error,
                failing=message.failing,
            )
        )
        self.worklist_feed.changed()  # a pull may have brought new exceptions (announced)
        self.refresh_worklist()

    # -- claims --------------------------------------------------------------------------------

    @property
    def claimer(self) -> ClaimService | None:
        """The service keeping this terminal's claims, if one was handed in."""
        # Asked on every key: looked up again only when the services are handed in anew.
        if self._claimer_for is not self.services:
            self._claimer_for = self.services
            self._claimer = next((s for s in self.services if isinstance(s, ClaimService)), None)
        return self._claimer

    def claimed_elsewhere(self, order_id: str) -> Claim | None:
        """Another terminal's claim on ``order_id`` not yet confirmed here; None: open freely.

        Read from what the last pull brought: never a network call on the way to a screen.
        """
        if order_id in self._take_over:
            return None
        return self.claims.get(order_id)

    def take_over(self, order_id: str) -> None:
        """The operator confirmed opening ``order_id`` over another terminal's claim."""
        self._take_over.add(order_id)

    def _claim_in_hand(self, _screen: object = None) -> None:
        """Tell the claim service which exception order is in hand now, if any.

        The order in hand is the one on the put-back screens in the stack; none (done, Esc out
        of the order, signed out) releases the claim. Called when the screens change and after
        each scan.
        """
        claimer = self.claimer
        if claimer is None:
            return
        operator = self.station.operator
        order = self.navigator.exception_order_in_hand()
        if order is not None and operator is not None:
            order_id = order.order_id
            claimer.hold(order_id, operator.badge, take_over=order_id in self._take_over)
            return
        claimer.release()

    def claims_changed_from_thread(self, claims: Sequence[Claim] | None) -> None:
        """Report the facility's claims as read from the central store (thread-safe).

        Args:
            claims: Every current claim of the facility (this terminal's too); None when they
                are not known now (the central store did not answer).
        """
        self.post_message(ClaimsChanged(None if claims is None else tuple(claims)))

    def claim_held_elsewhere_from_thread(self, claim: Claim) -> None:
        """Report that the order in hand is claimed by another terminal (thread-safe)."""
        self.post_message(ClaimHeldElsewhere(claim))

    def on_claims_changed(self, message: ClaimsChanged) -> None:
        """Keep the other terminals' claims and show them on the worklist."""
        terminal = self.station.terminal
        claims = {c.order_id: c for c in message.claims or () if c.terminal != terminal}
        if claims == self.claims:
            return
        self.claims = claims
        if self.worklist is not None:
            self.navigator.show_worklist(self.worklist)

    def on_claim_held_elsewhere(self, message: ClaimHeldElsewhere) -> None:
        """Say that another terminal is clearing the order in hand too (nothing is blocked)."""
        from putback_tui.tui.dialogs.claimed import claim_text

        claim = message.claim
        self.claims[claim.order_id] = claim
        self.notice(
            f"Order {claim.order_id} is also {claim_text(claim)}: carry on, the central store "
            "checks every put-back."
        )

    # -- actions -------------------------------------------------------------------------------

    async def action_help(self) -> None:
        """Open the help panel (or close it)."""
        from putback_tui.tui.dialogs.help import HelpDialog

        if isinstance(self.screen, HelpDialog):
            await self.pop_screen()
            return
        await self.push_screen(HelpDialog())

    async def action_supervisor(self) -> None:
        """Open the supervisor menu (always; each of its actions checks its permission)."""
        await self.navigator.open_supervisor_menu()

    async def action_undo(self) -> None:
        """Undo the last confirmed put-back of the order in hand."""
        if isinstance(self.screen, ScanDialog):
            self.refuse("Answer the question first (or Esc): nothing to undo here.", "wrong_step")
            return
        screen = self._scan_screen()
        if screen is not None:
            await screen.undo()


def make_app(
    ledger: Ledger,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = now_utc,
    monotonic: Callable[[], float] = time.monotonic,
    services: Sequence[BackgroundService] = (),
) -> PutbackApp:
    """Build the app on a ledger: the one factory the command line and the tests use.

    Args:
        ledger: The open local ledger.
        settings: The validated configuration.
        clock: Wall-clock time for the status bar.
        monotonic: Seconds for key gaps and double reads.
        services: Background services the app starts and stops (see ``PutbackApp``).

    Returns:
        The app, signed out and ready for a badge scan once run.
    """
    return PutbackApp(
        Station(ledger, settings),
        settings,
        clock=clock,
        monotonic=monotonic,
        demo=ledger.get_meta("dataset") == "demo",
        services=services,
    )
