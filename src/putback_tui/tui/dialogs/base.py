"""The frame of every question dialog: a panel that takes typed answers through the scan path.

Keys never reach a dialog's widgets as text: the App's key buffer takes every printable key and
Enter (see :mod:`putback_tui.tui.app`), so a typed ``2`` and Enter arrive here as one scan through
:meth:`ScanDialog.handle_scan`, exactly like a scanned code. Only the operator's own Enter (with
nothing typed) reaches the focused list or button, so a scanner's Enter can never press a button.
Esc backs out one step; ← → move between the buttons.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from putback_tui.barcodes import Scan
from putback_tui.tui.frame_timer import hand_over_changes
from putback_tui.tui.state import Result
from putback_tui.tui.widgets import ResultLine, TypedLine

if TYPE_CHECKING:
    from putback_tui.tui.app import PutbackApp

R = TypeVar("R")


class ScanDialog(ModalScreen[R]):
    """A modal question: title, body, the typed line, its own result line, and buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("left", "app.focus_previous", "Previous button", show=False),
        Binding("right", "app.focus_next", "Next button", show=False),
    ]
    """Esc backs out one step (the last step closes the dialog); ← → move between buttons
    (Tab is a scan terminator, so it cannot move focus)."""

    DEFAULT_CSS = """
    ScanDialog { align: center middle; }
    ScanDialog #dialog {
        width: 76;
        max-width: 95%;
        height: auto;
        max-height: 95%;
        padding: 0 1;
        border: heavy $accent;
        background: $surface;
    }
    ScanDialog #dialog-title { text-style: bold; height: 1; margin-bottom: 1; }
    ScanDialog #dialog-body { height: auto; }
    ScanDialog #dialog-buttons { height: 3; margin-top: 1; }
    ScanDialog #dialog-buttons Button { margin-right: 2; }
    ScanDialog ResultLine { height: auto; min-height: 1; padding: 0 1; }
    """
    """A centred panel, at most 76 columns, that fits 80x24."""

    TITLE_TEXT = ""
    """The dialog's heading."""

    AUTO_FOCUS = None
    """Each dialog focuses what the operator's own Enter should act on (see focus_default)."""

    def __init__(self, title: str | None = None) -> None:
        super().__init__()
        heading = self.TITLE_TEXT if title is None else title
        self._title_line = Static(Text(heading), id="dialog-title", markup=False)
        self._body = Static("", id="dialog-body", markup=False)
        self._typed = TypedLine()
        self._result = ResultLine(id="dialog-result")

    async def _on_idle(self, event: events.Idle) -> None:
        """Callbacks waiting for a repaint wait for every change made before them too."""
        if self._callbacks and hand_over_changes(self):
            event.prevent_default()  # idle again once the repaint request is handled

    @property
    def putback(self) -> PutbackApp:
        """The app, typed."""
        return cast("PutbackApp", self.app)

    def compose(self) -> ComposeResult:
        """Title, body, the dialog's own widgets, typed line, result line, buttons."""
        with Vertical(id="dialog"):
            yield self._title_line
            yield self._body
            yield from self.compose_extra()
            yield self._typed
            yield self._result
            buttons = list(self.buttons())
            if buttons:
                with Horizontal(id="dialog-buttons"):
                    yield from buttons

    def compose_extra(self) -> ComposeResult:
        """Widgets between the body and the typed line (a list of choices...)."""
        yield from ()

    def buttons(self) -> list[Button]:
        """The dialog's buttons, the default first (it gets the focus)."""
        return []

    def on_mount(self) -> None:
        """Start clean: nothing typed, no result, the first button focused."""
        self._typed.typed = self.putback.wedge.text
        self.focus_default()

    def focus_default(self) -> None:
        """Focus what the operator's own Enter should act on."""
        buttons = self.query(Button)
        if buttons:
            self.set_focus(buttons.first())

    def set_body(self, body: Text) -> None:
        """Replace the body (plain Text: product text is never markup)."""
        self._body.update(body)

    def show_typed(self, typed: str) -> None:
        """Echo the App's key buffer."""
        self._typed.typed = typed

    def show_result(self, result: Result) -> None:
        """Show the newest result (the App calls this while the dialog is in front)."""
        self._result.result = result

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A scan or typed line arrived while the dialog is in front; dialogs override.

        Args:
            scan: The classified scan.
            text: The text as received (untrusted).
        """
        self.putback.refuse(
            "Not here: answer the question (Enter), or Esc to go back.", "wrong_step"
        )

    async def action_back(self) -> None:
        """Esc: close without an answer (dialogs with steps go back one first)."""
        self.dismiss(None)
