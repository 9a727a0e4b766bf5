"""A dialog of steps: a reason by number, then (for some) a number, then Enter confirms."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from textual.widgets import Button, OptionList

from putback_tui.barcodes import Scan
from putback_tui.tui.dialogs.base import ScanDialog

R = TypeVar("R")

NUMBER = re.compile(r"[0-9]{1,3}")
"""A typed choice or quantity. A GTIN has at least 8 digits, so the two never collide."""


class StepsDialog(ScanDialog[R | None]):
    """The reason -> quantity -> confirm steps the reject and line-edit dialogs share.

    A subclass keeps ``step`` (``"reason"``, ``"quantity"`` or ``"confirm"``) and ``reasons``,
    and says what choosing a reason does, whether its dialog has a quantity step, what to forget
    when stepping back, and what it answers. Esc and Back go back one step and never record
    anything; from the reason, they close the dialog with no answer.
    """

    BACK_WORDS = "nothing was changed."
    """What the result line says on each step back."""
    CONFIRM_HINT = "Press Enter to confirm, or Esc to go back."
    """What the result line asks for when something is typed on the confirm step."""

    step: str
    reasons: list[Any]

    @property
    def has_quantity_step(self) -> bool:
        """True when the confirm step comes after a quantity step (Back returns to it)."""
        raise NotImplementedError

    def _choose(self, reason: Any) -> None:
        """Take ``reason`` (one of ``reasons``) and move to the next step."""
        raise NotImplementedError

    def _forget(self, *, reason: bool) -> None:
        """Forget the quantity given, and with ``reason`` the reason chosen."""
        raise NotImplementedError

    def answer(self) -> R | None:
        """What the dialog answers on confirm, or None when it is not complete."""
        raise NotImplementedError

    def _show_step(self) -> None:
        raise NotImplementedError

    def _quantity_hint(self) -> str:
        """What to type on the quantity step ("Type a quantity (1 to 3) and Enter.")."""
        raise NotImplementedError

    def _take_quantity(self, number: int) -> None:
        """A number typed on the quantity step: take it and move on, or refuse it by name."""
        raise NotImplementedError

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A typed number chooses the reason or gives the quantity; else, what the step wants."""
        typed = text.strip()
        if self.step == "confirm" or not NUMBER.fullmatch(typed):
            wanted = {
                "reason": f"Type a reason's number (1 to {len(self.reasons)}) and Enter.",
                "quantity": self._quantity_hint(),
                "confirm": self.CONFIRM_HINT,
            }[self.step]
            self.putback.refuse(f"Not an answer here. {wanted}", "wrong_step")
            return
        number = int(typed)
        if self.step != "reason":
            self._take_quantity(number)
            return
        if not 1 <= number <= len(self.reasons):
            self.putback.refuse(f"No reason {number}: type 1 to {len(self.reasons)}.", "wrong_step")
            return
        self._choose(self.reasons[number - 1])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """The operator's own Enter on a highlighted reason."""
        event.stop()
        self._choose(self.reasons[event.option_index])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Confirm (own Enter or click) answers; Back steps back."""
        event.stop()
        answer = self.answer() if event.button.id == "confirm" else None
        if answer is not None:
            self.dismiss(answer)
        else:
            self._back()

    async def action_back(self) -> None:
        """Esc: back one step; from the reason, close without changing anything."""
        if self.step == "reason":
            self.dismiss(None)
            return
        self._back()

    def _back(self) -> None:
        to_reason = not (self.step == "confirm" and self.has_quantity_step)
        self.step = "reason" if to_reason else "quantity"
        self._forget(reason=to_reason)
        self.putback.info(f"Back one step: {self.BACK_WORDS}")
        self._show_step()
