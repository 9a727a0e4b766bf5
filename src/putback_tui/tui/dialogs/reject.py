"""Reject an item of a live order: the reason (1-4 or arrows), the quantity (typed), confirm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Button, OptionList
from textual.widgets.option_list import Option

from putback_tui.domain.models import OrderLine, Product, RejectReason
from putback_tui.domain.reasons import RejectReasonDef, reason_of
from putback_tui.domain.wording import units as _units
from putback_tui.tui.dialogs.steps import StepsDialog


@dataclass(frozen=True)
class RejectChoice:
    """What the operator chose: the line, the reason and how many unpicked units."""

    line_no: int
    reason: RejectReason | str
    """A built-in reason, or a site's own code."""
    quantity: int


class RejectDialog(StepsDialog[RejectChoice]):
    """Three steps: reason, quantity (skipped when one unit is open), confirm."""

    BACK_WORDS = "nothing was rejected."
    CONFIRM_HINT = "Press Enter to reject, or Esc to go back."
    STEPS: ClassVar[tuple[str, ...]] = ("reason", "quantity", "confirm")

    def __init__(
        self,
        order_id: str,
        line: OrderLine,
        product: Product | None,
        reasons: tuple[RejectReasonDef, ...] | list[RejectReasonDef],
    ) -> None:
        """Ask about one line.

        Args:
            order_id: The live order.
            line: The line to reject from (its unpicked open units are the most).
            product: The line's product, for its description.
            reasons: The site's reject reasons with their effects, in the order offered.
        """
        super().__init__(f"Reject an item of order {order_id}")
        self.order_id = order_id
        self.line = line
        self.product = product
        self.reasons = list(reasons)
        self.step = "reason"
        self.reason: RejectReason | str | None = None
        self.effect_words = ""
        self.quantity: int | None = None
        self._options = OptionList(
            *(
                Option(Text.assemble((f"{i}  {r.code:<13}", "bold"), r.effect.words), id=f"r{i}")
                for i, r in enumerate(self.reasons, 1)
            ),
            id="reasons",
        )

    def compose_extra(self) -> ComposeResult:
        """The reasons, numbered."""
        yield self._options

    def buttons(self) -> list[Button]:
        """Reject (focused in the confirm step) and Back."""
        return [
            Button("Reject", id="confirm", variant="error"),
            Button("Back (Esc)", id="back"),
        ]

    def on_mount(self) -> None:
        """Start at the reason."""
        super().on_mount()
        self._show_step()

    def focus_default(self) -> None:
        """Each step focuses its own widget (see ``_show_step``): never a hidden button."""

    @property
    def most(self) -> int:
        """Units that can be rejected: unpicked and still reserved."""
        return self.line.unpicked_open

    def _head(self) -> Text:
        description = f" ({self.product.description})" if self.product else ""
        return Text.assemble(
            (self.line.sku, "bold"),
            description,
            f"\nOrdered {self.line.quantity} · picked {self.line.picked} · ",
            (f"{self.most} unpicked can be rejected", "bold"),
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
        assert self.reason is not None
        if self.step == "quantity":
            head.append(f"\n\nReason: {self.reason}. ", style="bold")
            head.append(f"How many? Type 1 to {self.most} and Enter.")
            self.set_body(head)
            self.set_focus(None)
            return
        quantity = self.quantity or 1
        head.append("\n\n")
        head.append(
            f"Reject {_units(quantity)} of {self.line.sku} for {self.reason}.\n", "bold"
        )
        head.append(
            f"Stock: the reservation is released, then {self.effect_words}.\n"
            "The line leaves this facility's queue; a re-route is requested from the "
            "central store.\n\nEnter rejects. Esc goes back."
        )
        self.set_body(head)
        self.set_focus(self.query_one("#confirm", Button))

    # -- answers -------------------------------------------------------------------------------

    def _quantity_hint(self) -> str:
        return f"Type a quantity (1 to {self.most}) and Enter."

    def _take_quantity(self, number: int) -> None:
        """The quantity of unpicked units to reject, 1 to the line's open units."""
        if not 1 <= number <= self.most:
            self.putback.refuse(
                f"Quantity must be 1 to {self.most} (unpicked units of {self.line.sku}), "
                f"not {number}.",
                "invalid_quantity",
            )
            return
        self.quantity = number
        self.step = "confirm"
        self.putback.info(f"Reject {_units(number)}? Enter rejects, Esc goes back.")
        self._show_step()

    def _choose(self, reason: RejectReasonDef) -> None:
        self.reason = reason_of(reason.code) or reason.code
        self.effect_words = reason.effect.words
        if self.most == 1:
            self.quantity = 1
            self.step = "confirm"
        else:
            self.step = "quantity"
        self.putback.info(f"Reason: {reason.code}.")
        self._show_step()

    @property
    def has_quantity_step(self) -> bool:
        """A line with one unit open skips the quantity."""
        return self.most > 1

    def _forget(self, *, reason: bool) -> None:
        self.quantity = None
        if reason:
            self.reason = None

    def answer(self) -> RejectChoice | None:
        """The reason and quantity, once a reason is chosen."""
        if self.reason is None:
            return None
        return RejectChoice(self.line.line_no, self.reason, self.quantity or 1)
