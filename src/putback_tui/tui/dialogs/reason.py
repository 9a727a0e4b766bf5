"""Choose one of the site's reason codes for a whole-order action (number and Enter, or arrows)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Button, OptionList
from textual.widgets.option_list import Option

from putback_tui.barcodes import Scan
from putback_tui.tui.dialogs.base import ScanDialog
from putback_tui.tui.dialogs.steps import NUMBER


class ReasonDialog(ScanDialog[str | None]):
    """One step: the reason. The action's own confirmation follows; Esc closes, nothing done."""

    def __init__(self, title: str, head: Text, codes: tuple[str, ...] | list[str]) -> None:
        """Ask for a reason.

        Args:
            title: What is being done ("Cancel order D-1005: why?").
            head: A sentence above the list (a Text: never markup).
            codes: The site's codes for the action, in the order offered.
        """
        super().__init__(title)
        self.head = head
        self.codes = list(codes)
        self._options = OptionList(
            *(
                Option(Text.assemble((f"{i}  ", "bold"), (code, "bold")), id=f"reason-{i}")
                for i, code in enumerate(self.codes, 1)
            ),
            id="reasons",
        )

    def compose_extra(self) -> ComposeResult:
        """The reasons, numbered."""
        yield self._options

    def buttons(self) -> list[Button]:
        """None: a reason is chosen by its number or with Enter on the list."""
        return []

    def on_mount(self) -> None:
        """The question, and the list focused."""
        super().on_mount()
        body = self.head.copy()
        body.append("\n\nWhy? Type its number and Enter, or ↑ ↓ and Enter. Esc: nothing is done.")
        self.set_body(body)
        self._options.highlighted = 0
        self.set_focus(self._options)

    def focus_default(self) -> None:
        """The list is focused in ``on_mount``."""

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A typed number chooses the reason."""
        typed = text.strip()
        number = int(typed) if NUMBER.fullmatch(typed) else 0
        if not 1 <= number <= len(self.codes):
            self.putback.refuse(
                f"Not an answer here. Type a reason's number (1 to {len(self.codes)}) and Enter.",
                "wrong_step",
            )
            return
        self.dismiss(self.codes[number - 1])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """The operator's own Enter on a highlighted reason."""
        event.stop()
        self.dismiss(self.codes[event.option_index])

    async def action_back(self) -> None:
        """Esc: close without a reason; the action is not taken."""
        self.dismiss(None)
