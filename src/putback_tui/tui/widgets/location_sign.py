"""The location sign: where the item goes, large enough to read from the shelf."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.renderables.digits import DIGITS
from textual.widgets import Digits, Static


class LocationSign(Vertical):
    """A boxed location code, three rows tall where the font has its characters, and a caption."""

    DEFAULT_CSS = """
    LocationSign {
        height: 6;
        width: 1fr;
        border: heavy $accent;
        padding: 0 1;
    }
    LocationSign.-confirmed { border: heavy #00a040; }
    LocationSign Digits { width: 1fr; text-align: center; text-style: bold; }
    LocationSign #plain { height: 3; width: 1fr; content-align: center middle; }
    LocationSign #caption { height: 1; width: 1fr; text-align: center; text-style: italic; }
    """
    """A heavy border around large characters: the eye finds it first."""

    code: reactive[str] = reactive("", layout=False)
    """The location code (from the store or a classified scan: printable, no markup)."""
    caption: reactive[str] = reactive("", layout=False)
    """What the code means ("Suggested: where it was picked from")."""
    confirmed: reactive[bool] = reactive(False, layout=False)
    """True once the operator scanned the location."""

    def compose(self) -> ComposeResult:
        """Large digits, a plain fallback for codes the digit font lacks, and the caption."""
        yield Digits("", id="digits")
        yield Static("", id="plain", markup=False)
        yield Static("", id="caption", markup=False)

    def watch_code(self, code: str) -> None:
        """Show the code large if the digit font has every character, else bold and spaced."""
        digits = self.query_one(Digits)
        plain = self.query_one("#plain", Static)
        large = bool(code) and all(ch in DIGITS for ch in code)
        digits.display = large
        plain.display = not large
        digits.update(code if large else "")
        plain.update(Text(" ".join(code) if code else "—", style="bold reverse"), layout=False)

    def watch_caption(self, caption: str) -> None:
        """Show the caption."""
        self.query_one("#caption", Static).update(Text(caption), layout=False)

    def watch_confirmed(self, confirmed: bool) -> None:
        """Green border once scanned."""
        self.set_class(confirmed, "-confirmed")
