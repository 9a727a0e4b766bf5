"""A yes/no question before an action that changes stock: the operator's own Enter confirms."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Button

from putback_tui.tui.dialogs.base import ScanDialog


class ConfirmDialog(ScanDialog[bool]):
    """States what an action will do; Enter on the focused button confirms, Esc goes back."""

    def __init__(self, title: str, body: Text, confirm: str, *, danger: bool = False) -> None:
        """Build the question.

        Args:
            title: The heading ("Cancel order D-1005?"), plain text.
            body: What confirming does, with the figures (a Text: never markup).
            confirm: The confirm button's label ("Cancel the order").
            danger: Colour the confirm button red (an action that takes stock away).
        """
        super().__init__(title)
        self._question = body
        self._confirm = confirm
        self._danger = danger

    def buttons(self) -> list[Button]:
        """Confirm (focused), then Back."""
        return [
            Button(self._confirm, id="confirm", variant="error" if self._danger else "primary"),
            Button("Back (Esc)", id="back"),
        ]

    def on_mount(self) -> None:
        """Show the question and what to press."""
        super().on_mount()
        body = self._question.copy()
        body.append("\n\nEnter confirms. Esc goes back: nothing changes.", style="italic")
        self.set_body(body)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Only the operator's own Enter (or a click) gets here."""
        event.stop()
        self.dismiss(event.button.id == "confirm")

    async def action_back(self) -> None:
        """Esc: no."""
        self.dismiss(False)
