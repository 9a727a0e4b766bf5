"""A live order: its lines and the actions that apply (reject, cancel, force cancel, edit lines)."""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button

from putback_tui.barcodes import OrderCode, ProductCode, Scan
from putback_tui.domain.models import OrderLine, Permission
from putback_tui.domain.wording import agree
from putback_tui.domain.wording import units as _units
from putback_tui.station import OrderView
from putback_tui.tui.screens.base import ScanScreen
from putback_tui.tui.screens.live_actions import cancel_order, edit_line, force_cancel, reject_item
from putback_tui.tui.widgets import Column, Headline, LineTable, Row

COLUMNS = (
    Column("Product"),
    Column("Description", shrink=True),
    Column("Ordered", "right"),
    Column("Picked", "right"),
    Column("Rejected", "right"),
    Column("Pick location"),
)


ACTIONS = {
    "reject": ("F3 Reject item", Permission.REJECT_ITEM),
    "cancel": ("F4 Cancel order", Permission.CANCEL_ORDER),
    "force-cancel": ("F5 Force cancel", Permission.FORCE_CANCEL),
}
"""Each action's button: its label and the permission it needs."""


class LiveOrderScreen(ScanScreen):
    """Shows a live order; nothing changes by itself."""

    TITLE_TEXT = "live order"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f3", "reject", "Reject item", show=False),
        Binding("f4", "cancel_order", "Cancel order", show=False),
        Binding("f5", "force_cancel", "Force cancel", show=False),
        Binding("f6", "cancel_line", "Cancel line", show=False),
        Binding("f7", "reduce_line", "Reduce quantity", show=False),
    ]
    """Function keys: printable keys belong to the scan buffer, and Tab ends a scan. Their
    buttons name them; the footer keeps room for Esc, Ctrl+Q, F1 and Ctrl+Z at 80 columns."""

    def __init__(self) -> None:
        super().__init__()
        self.view: OrderView | None = None
        self._head = Headline(id="order-head")
        self._table = LineTable(COLUMNS, id="lines")
        self._note = Headline(id="actions-note")

    def title_text(self) -> str:
        """Name the order in the title."""
        if self.view is None:
            return "putback · live order"
        return f"putback · order {self.view.order.order_id} · live"

    def load(self, view: OrderView, *, cursor: int = 0) -> None:
        """Show another live order (before the screen is pushed), the cursor on row ``cursor``."""
        self.view = view
        if self.is_mounted:
            self.refresh_title()
            self._fill(cursor)

    def _fill(self, cursor: int = 0) -> None:
        if self.view is None:
            return
        order = self.view.order
        rejected = sum(line.rejected for line in order.lines)
        self._head.show(
            Text.assemble(
                (f"Order {order.order_id}", "bold"),
                f" is live ({order.status.value.replace('_', ' ')}): it is still being fulfilled.",
                f" {_units(rejected)} rejected so far."
                if rejected
                else " Nothing changes by itself.",
            )
        )
        self._show_permissions()
        rows = []
        for line in order.lines:
            product = self.view.products.get(line.sku)
            rows.append(Row(str(line.line_no), (
                Text(line.sku, style="bold"),
                product.description if product else "",
                str(line.ordered) if line.ordered == line.quantity
                else f"{line.ordered} of {line.quantity}",
                str(line.picked),
                str(line.rejected),
                line.pick_location or "—",
            )))
        self._table.set_rows(rows, cursor=cursor)

    def _show_permissions(self) -> None:
        """Dim the actions the signed-in operator may not take, naming the permission."""
        station = self.putback.station
        for button in self.query(Button):
            action = ACTIONS.get(button.id or "")
            if action is None:
                continue
            allowed = station.may(action[1])
            button.disabled = not allowed
        lacking = [(label.split()[0], p) for label, p in ACTIONS.values() if not station.may(p)]
        edits = station.may(Permission.EDIT_LINES)
        note = Text(
            "F3 reject, F6 cancel line, F7 reduce quantity: on the highlighted line (↑ ↓, "
            "or scan the item)."
            if edits
            else "Reject acts on the highlighted line (↑ ↓, or scan the item).",
            style="italic",
        )
        if lacking:
            keys = ", ".join(key for key, _ in lacking)
            needs = ", ".join(p.value for _, p in lacking)
            verb = agree(len(lacking), "it needs", "they need")
            note.append(f"\n{keys} dimmed: {verb} {needs} (ask a supervisor).", style="")
        if not edits:
            note.append(
                f"\nF6 cancel line, F7 reduce quantity: they need {Permission.EDIT_LINES.value}.",
                style="",
            )
        self._note.show(note)  # a layout only when its number of lines changes

    def compose_body(self) -> ComposeResult:
        """Lines and the actions (dimmed where the operator lacks the permission)."""
        yield self._head
        yield self._table
        with Horizontal(id="actions"):
            for button_id, (label, _) in ACTIONS.items():
                yield Button(label, id=button_id)
        yield self._note

    def on_mount(self) -> None:
        """Say what to do next."""
        super().on_mount()
        self._fill()
        self.set_prompt("Live order: scan another order, or Esc")

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """Another order opens; an item highlights its line; the rest is refused."""
        if isinstance(scan, OrderCode):
            await self.putback.navigator.open_order(scan.order_id)
        elif isinstance(scan, ProductCode) and self.view is not None:
            app = self.putback
            product = await app.attempt(
                partial(app.station.product_by_gtin, scan.gtin14), group="lookup", write=False
            )
            if product is None:
                return
            rows = [i for i, ln in enumerate(self.view.order.lines) if ln.sku == product.sku]
            if not rows:
                app.refuse(f"{product.sku} is not on order {self.view.order.order_id}.",
                           "product_not_on_order")
                return
            self._table.move_cursor(row=rows[0])
            app.info(f"{product.sku} highlighted: F3 rejects it.")
        else:
            self.refuse_scan(scan, "This order is live: scan another order.")

    @property
    def highlighted_row(self) -> int:
        """The table row under the cursor."""
        return self._table.cursor_row

    def highlighted_line(self) -> OrderLine:
        """The line under the table's cursor (the first line if none)."""
        assert self.view is not None
        lines = self.view.order.lines
        return lines[min(max(self._table.cursor_row, 0), len(lines) - 1)]

    async def reload(self) -> None:
        """Read the order again and show it as it now stands."""
        if self.view is None:
            return
        app = self.putback
        view = await app.attempt(
            partial(app.station.view, self.view.order.order_id), group="lookup", write=False
        )
        if view is not None:
            self.load(view, cursor=self._table.cursor_row)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        """A click, or the operator's own Enter on a focused button."""
        event.stop()
        action = {"reject": self.action_reject, "cancel": self.action_cancel_order,
                  "force-cancel": self.action_force_cancel}.get(event.button.id or "")
        if action is not None:
            await action()

    async def action_reject(self) -> None:
        """F3: reject units of the highlighted line."""
        await reject_item(self)

    async def action_cancel_order(self) -> None:
        """F4: cancel the order (only with nothing picked and no label)."""
        await cancel_order(self)

    async def action_force_cancel(self) -> None:
        """F5: force cancel; the picked units go straight to put-back."""
        await force_cancel(self)

    async def action_cancel_line(self) -> None:
        """F6: cancel the highlighted line; its picked units go straight to put-back."""
        await edit_line(self, reduce=False)

    async def action_reduce_line(self) -> None:
        """F7: reduce the highlighted line's quantity (never raise it)."""
        await edit_line(self, reduce=True)
