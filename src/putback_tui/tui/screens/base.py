"""The frame every working screen shares: title, prompt, body, typed line, result, status."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from putback_tui.barcodes import BadgeCode, InvalidCode, Scan
from putback_tui.domain.entries import Entry
from putback_tui.domain.wording import units as _units
from putback_tui.tui.frame_timer import frame_timer, hand_over_changes
from putback_tui.tui.messages import PutBackUndone
from putback_tui.tui.state import Result, Status
from putback_tui.tui.widgets import KeyFooter, ResultLine, StatusBar, TypedLine

if TYPE_CHECKING:
    from putback_tui.tui.app import PutbackApp


def describe_undo(entry: Entry) -> str:
    """One sentence for an undo entry: what went back out of where."""
    details = entry.details
    qty = details.quantity or 0
    units = f"{_units(qty)} of {details.sku}" if details.sku else "the put-back"
    where = f" from {details.location}" if details.location else ""
    return f"Undone: {units} taken back out{where}; put it back again when ready."


async def undo_put_back(screen: ScanScreen, order_id: str) -> Entry | None:
    """Undo the last put-back of ``order_id`` and say so; None if refused (reason shown)."""
    app = screen.putback
    entry = await app.attempt(partial(app.station.undo_last_put_back, order_id), group="undo")
    if entry is None:
        return None
    app.navigator.order_screen().forget(entry)
    app.post_message(PutBackUndone(entry))
    app.done(describe_undo(entry))
    return entry


class ScanScreen(Screen[None]):
    """Base of the working screens: a scan arrives through :meth:`handle_scan`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
    ]
    """Esc backs out one step; each screen says what a step is."""

    TITLE_TEXT = "putback"
    """The screen's name in the title bar."""

    _frame_timer: Timer | None = None
    """The repaint timer, once made (see ``_update_timer``)."""

    BLANK = True
    """The screen draws no content of its own (its widgets do), so Textual skips its per-line
    styling: every screen change repaints the whole screen, and this was 1-2 ms of it."""

    def __init__(self) -> None:
        super().__init__()
        self._title = Static("", id="title", markup=False)
        self._prompt = Static("", id="prompt", markup=False)
        self._typed = TypedLine()
        self._result = ResultLine(id="result")
        self._status = StatusBar()
        self.prompt_now = ""
        """What the prompt asks for now."""
        self._styled_for: tuple[object, ...] | None = None
        """What the last whole-screen restyle was made for (see ``on_screen_resume``)."""

    @property
    def _update_timer(self) -> Timer:
        """The repaint timer: Textual's, without a frame too many after a late repaint."""
        if self._frame_timer is None:
            self._frame_timer = frame_timer(self)
        return self._frame_timer

    async def _on_idle(self, event: events.Idle) -> None:
        """Callbacks waiting for a repaint wait for every change made before them too."""
        if self._callbacks and hand_over_changes(self):
            event.prevent_default()  # idle again once the repaint request is handled

    @property
    def putback(self) -> PutbackApp:
        """The app, typed."""
        return cast("PutbackApp", self.app)

    def compose(self) -> ComposeResult:
        """The frame around the screen's body."""
        yield self._title
        yield self._prompt
        yield from self.compose_body()
        yield self._typed
        yield self._result
        yield self._status
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between prompt and typed line."""
        yield from ()

    def title_text(self) -> str:
        """The title bar's text."""
        return f"putback · {self.TITLE_TEXT}"

    def on_mount(self) -> None:
        """Fill the shared parts from the App."""
        self.refresh_title()
        self._sync_from_app()

    # Parts whose size the stylesheet fixes (title, prompt, result, status, a 1fr body) are
    # updated with ``layout=False``: a layout pass re-renders the whole screen, 10-20 ms.
    # Only the ``height: auto`` heads (#order-head, #product: ``Headline``) ask for one, and only
    # when their number of lines changes.

    def refresh_title(self) -> None:
        """Rewrite the title bar (after loading new content into a reused screen)."""
        self._title.update(Text(self.title_text(), style="bold"), layout=False)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Coming back to the front: show the newest result and status.

        Runs before Textual's own handler, which restyles every widget of a pushed screen:
        10-20 ms for a screen with a table, on every push of a reused screen. Class changes
        restyle their widgets as they happen, suspended or not; what a suspended screen can miss
        is a new theme or stylesheet (``App._css_update_count``, as Textual's own mode switch
        checks) or a change of the App's classes. Only then is the restyle kept.
        """
        if event.refresh_styles:
            styled_for = (self.app._css_update_count, self.app.classes, self.app.pseudo_classes)
            if styled_for == self._styled_for:
                event.refresh_styles = False
            self._styled_for = styled_for
        self._sync_from_app()

    def _sync_from_app(self) -> None:
        self._result.result = self.putback.result
        self._status.status = self.putback.status
        self._typed.typed = self.putback.wedge.text

    def set_prompt(self, text: str) -> None:
        """Say what to scan next (plain text)."""
        self.prompt_now = text
        self._prompt.update(Text(text), layout=False)

    def show_result(self, result: Result) -> None:
        """Show the App's newest result."""
        self._result.result = result

    def show_status(self, status: Status) -> None:
        """Show the App's newest status."""
        self._status.status = status

    def show_typed(self, typed: str) -> None:
        """Show what is typed so far."""
        self._typed.typed = typed

    # -- scans and keys --------------------------------------------------------------------------

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """Act on one scan. The base refuses everything; screens override.

        Args:
            scan: The classified scan.
            text: The text as received (untrusted).
        """
        self.refuse_scan(scan)

    def refuse_scan(self, scan: Scan, expected: str = "") -> None:
        """Refuse a scan that means nothing here, saying what was expected.

        Args:
            scan: The scan.
            expected: What this step wants ("Scan an order"), appended to the reason.
        """
        tail = f" {expected}" if expected else ""
        if isinstance(scan, InvalidCode):
            # The reason quotes the scan (escaped) unless the trouble was in what it contained.
            quoted = "" if scan.shown in scan.reason else f" Scanned: {scan.shown}."
            self.putback.refuse(f"{scan.reason}.{quoted}{tail}", "invalid_code")
        elif isinstance(scan, BadgeCode):
            self.putback.refuse(
                f"Badge {scan.badge}: sign in from the order screen (Esc to get there).{tail}",
                "wrong_step",
            )
        else:
            article = "An" if scan.kind[0] in "aeiou" else "A"
            self.putback.refuse(
                f"{article} {scan.kind} code is not expected here.{tail}", "wrong_step"
            )

    async def undo(self) -> None:
        """Ctrl+Z: undo the last put-back of the order in hand (screens with one override)."""
        self.putback.refuse("No order in hand: nothing to undo.", "nothing_to_undo")

    async def action_back(self) -> None:
        """Esc: back out one step (the base leaves the screen)."""
        await self.app.pop_screen()
