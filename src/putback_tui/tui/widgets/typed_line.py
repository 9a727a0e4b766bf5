"""The typed line: what has been keyed in so far, before Enter, shown literally."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from putback_tui.barcodes import shown


class TypedLine(Static):
    """Echoes the App's key buffer, so a person typing an order ID sees it; scans flash past."""

    DEFAULT_CSS = """
    TypedLine {
        height: 1;
        padding: 0 2;
        color: $text-muted;
    }
    """
    """One dim line just above the result line."""

    typed: reactive[str] = reactive("", layout=False)
    """The buffered text (untrusted: rendered through ``shown()`` into a Text)."""

    def __init__(self) -> None:
        super().__init__("", markup=False)

    def watch_typed(self, typed: str) -> None:
        """Show the buffer escaped, cut to the width of a line."""
        if not typed:
            self.update(Text("Scan, or type and press Enter.", style="italic"), layout=False)
            return
        self.update(
            Text.assemble(("Typed: ", "bold"), shown(typed, 60), ("▌", "blink")), layout=False
        )
