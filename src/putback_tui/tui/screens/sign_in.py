"""Sign in: scan a badge, or type the operator ID and press Enter."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from putback_tui.barcodes import BadgeCode, Scan
from putback_tui.tui.screens.base import ScanScreen


class SignInScreen(ScanScreen):
    """The first screen: nothing happens until an operator signs in."""

    TITLE_TEXT = "sign in"

    def compose_body(self) -> ComposeResult:
        """A short explanation under the prompt (which asks for the badge), and the help hint."""
        hint = Text.assemble(
            "Or type your ",
            ("operator ID", "bold"),
            " (e.g. OP-0001) and press Enter.\n\n",
            "Every put-back you confirm is recorded under your name, on this terminal.\n",
            "Press F1 for help",
            (" and the demo codes." if self.putback.demo else "."),
        )
        yield Static(hint, id="body", markup=False)

    def on_mount(self) -> None:
        """Ask for the badge."""
        super().on_mount()
        self.set_prompt("Scan your badge to sign in")

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A badge signs in; anything else is refused."""
        if not isinstance(scan, BadgeCode):
            self.refuse_scan(scan, "Scan your badge to sign in first.")
            return
        await self.putback.navigator.sign_in(self, scan.badge)

    async def action_back(self) -> None:
        """Esc: there is no step before signing in."""

