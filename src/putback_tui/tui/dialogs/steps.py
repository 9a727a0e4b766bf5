"""A dialog of steps: a reason by number, then (for some) a number, then Enter confirms."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.widgets import Button, OptionList

from putback_tui.tui.dialogs.base import ScanDialog

R = TypeVar("R")


class StepsDialog(ScanDialog[R | None]):
    """The reason -> quantity -> confirm steps the reject and line-edit dialogs share.

    A subclass keeps ``step`` (``"reason"``, ``"quantity"`` or ``"confirm"``) and ``reasons``,
    and says what choosing a reason does, whether its dialog has a quantity step, what to forget
    when stepping back, and what it answers. Esc and Back go back one step and never record
    anything; from the reason, they close the dialog with no answer.
    """

    BACK_WORDS = "nothing was changed."
    """What the result line says on each step back."""

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
