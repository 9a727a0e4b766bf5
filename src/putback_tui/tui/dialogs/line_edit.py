"""Cancel a line, or reduce its quantity: the reason (number and Enter), the new quantity, confirm.

The same steps as the reject dialog; the confirmation says in words what happens to stock (how
many units go back to available stock, how many must be put back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Button, OptionList
from textual.widgets.option_list import Option

from putback_tui.domain.models import OrderLine, Product
from putback_tui.domain.wording import agree
from putback_tui.domain.wording import units as _units
from putback_tui.tui.dialogs.steps import StepsDialog


@dataclass(frozen=True)
class LineEditChoice:
    """What the operator chose: the line, the reason code and (reduce only) the new quantity."""

    line_no: int
    reason_code: str
    new_quantity: int
    """0 for a cancelled line."""


def stock_effect(released: int, withdrawn: int) -> str:
    """What a line edit does to stock, in words.

    ``released`` unpicked units go back to available stock, ``withdrawn`` picked ones to
    put-back (the split of :meth:`~putback_tui.station.Station.line_edit_effect`).
    """
    said = []
    if released:
        said.append(
            f"{_units(released)} not yet picked {agree(released, 'goes', 'go')} back to "
            f"available stock (ATP + {released}); "
            "QOH unchanged."
        )
    if withdrawn:
        said.append(
            f"{_units(withdrawn)} already picked must be put back: the put-back starts "
            "right away."
        )
    return "\n".join(said) or "Stock unchanged."


class LineEditDialog(StepsDialog[LineEditChoice]):
    """Cancel (reason, confirm) or reduce (reason, new quantity, confirm) one line."""

    STEPS: ClassVar[tuple[str, ...]] = ("reason", "quantity", "confirm")

    def __init__(
        self,
        order_id: str,
        line: OrderLine,
        product: Product | None,
        reasons: list[str],
        *,
        reduce: bool,
    ) -> None:
        """Ask about one line.

        Args:
            order_id: The live order.
            line: The line to cancel or reduce.
            product: The line's product, for its description.
            reasons: The site's reason codes for this action, in the order offered.
            reduce: True to reduce the quantity (F7); False to cancel the line (F6).
        """
        verb = "Reduce a line of" if reduce else "Cancel a line of"
        super().__init__(f"{verb} order {order_id}")
        self.order_id = order_id
        self.line = line
        self.product = product
        self.reasons = list(reasons)
        self.reduce = reduce
        self.step = "reason"
        self.reason: str | None = None
        self.new_quantity: int | None = None
        self._options = OptionList(
            *(
                Option(Text.assemble((f"{i}  ", "bold"), (code, "bold")), id=f"reason-{i}")
                for i, code in enumerate(self.reasons, 1)
            ),
            id="reasons",
        )

    @property
    def lowest(self) -> int:
        """The lowest quantity the line can go down to here (rejected units stay ordered)."""
        return self.line.ordered - self.line.held

    def compose_extra(self) -> ComposeResult:
        """The reasons, numbered."""
        yield self._options

    def buttons(self) -> list[Button]:
        """Confirm (focused in the confirm step) and Back."""
        label = "Reduce the line" if self.reduce else "Cancel the line"
        return [Button(label, id="confirm", variant="error"), Button("Back (Esc)", id="back")]

    def on_mount(self) -> None:
        """Start at the reason."""
        super().on_mount()
        self._show_step()

    def focus_default(self) -> None:
        """Each step focuses its own widget (see ``_show_step``): never a hidden button."""

    def _head(self) -> Text:
        line = self.line
        description = f" ({self.product.description})" if self.product else ""
        return Text.assemble(
            (f"Line {line.line_no}: {line.sku}", "bold"),
            description,
            f"\nOrdered {line.ordered} · picked {line.picked} · "
            f"{line.unpicked_open} unpicked and reserved",
        )

    def _show_step(self) -> None:
        head = self._head()
        reason_step = self.step == "reason"
        self._options.display = reason_step
        self.query_one("#dialog-buttons").display = self.step == "confirm"
        if reason_step:
            head.append("\n\nWhy? Type its number and Enter, or ↑ ↓ and Enter.")
            self.set_body(head)
            self._options.highlighted = 0
            self.set_focus(self._options)
            return
        if self.step == "quantity":
            head.append(f"\n\nReason: {self.reason}. ", style="bold")
            head.append(
                f"New quantity? Type {self.lowest} to {self.line.ordered - 1} and Enter "
                "(raising it needs the OMS)."
            )
            self.set_body(head)
            self.set_focus(None)
            return
        new = self.new_quantity or 0
        head.append("\n\n")
        if self.reduce:
            head.append(
                f"Reduce line {self.line.line_no} from {self.line.ordered} to {new} "
                f"for {self.reason}.\n",
                "bold",
            )
        else:
            head.append(f"Cancel line {self.line.line_no} for {self.reason}.\n", "bold")
        head.append(
            f"Stock: {stock_effect(*self.putback.station.line_edit_effect(self.line, new))}\n"
            "The change goes to the OMS on the event feed.\n\n"
            f"Enter {'reduces' if self.reduce else 'cancels'}. Esc goes back."
        )
        self.set_body(head)
        self.set_focus(self.query_one("#confirm", Button))

    # -- answers -------------------------------------------------------------------------------

    def _quantity_hint(self) -> str:
        return (
            f"Type the new quantity ({self.lowest} to {self.line.ordered - 1}) and Enter."
        )

    def _take_quantity(self, number: int) -> None:
        """The line's new quantity: below what it orders, not below what was rejected."""
        if number >= self.line.ordered:
            self.putback.refuse(
                f"Line {self.line.line_no} orders {self.line.ordered}: raising it (or keeping it) "
                "needs a new reservation: change it in the OMS."
                if number > self.line.ordered
                else f"Line {self.line.line_no} already orders {number}: type a smaller quantity.",
                "line_edit_not_allowed",
            )
            return
        if number < self.lowest:
            self.putback.refuse(
                f"Line {self.line.line_no} can go down to {self.lowest} here, not {number}: "
                "the rest was rejected and is re-routed.",
                "line_edit_not_allowed",
            )
            return
        self.new_quantity = number
        self.step = "confirm"
        self.putback.info(f"New quantity {number}? Enter reduces, Esc goes back.")
        self._show_step()

    def _choose(self, reason: str) -> None:
        self.reason = reason
        if self.reduce:
            self.step = "quantity"
        else:
            self.new_quantity = self.lowest
            self.step = "confirm"
        self.putback.info(f"Reason: {reason}.")
        self._show_step()

    @property
    def has_quantity_step(self) -> bool:
        """Only a reduction asks for the new quantity."""
        return self.reduce

    def _forget(self, *, reason: bool) -> None:
        self.new_quantity = None
        if reason:
            self.reason = None

    def answer(self) -> LineEditChoice | None:
        """The reason and the new quantity, once a reason is chosen."""
        if self.reason is None:
            return None
        return LineEditChoice(self.line.line_no, self.reason, self.new_quantity or 0)
