"""A live order: its lines and the actions that apply (disabled until the supervisor tools)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Static

from putback_tui.barcodes import OrderCode, Scan
from putback_tui.station import OrderView
from putback_tui.tui.screens.base import ScanScreen
from putback_tui.tui.screens.order import order_screen


class LiveOrderScreen(ScanScreen):
    """Shows a live order; nothing changes by itself."""

    TITLE_TEXT = "live order"

    def __init__(self) -> None:
        super().__init__()
        self.view: OrderView | None = None
        self._head = Static("", id="order-head", markup=False)
        self._table: DataTable[Text | str] = DataTable(
            id="lines", cursor_type="row", zebra_stripes=True
        )

    def title_text(self) -> str:
        """Name the order in the title."""
        if self.view is None:
            return "putback · live order"
        return f"putback · order {self.view.order.order_id} · live"

    def load(self, view: OrderView) -> None:
        """Show another live order (before the screen is pushed)."""
        self.view = view
        if self.is_mounted:
            self.refresh_title()
            self._fill()

    def _fill(self) -> None:
        if self.view is None:
            return
        order = self.view.order
        self._head.update(
            Text.assemble(
                (f"Order {order.order_id}", "bold"),
                f" is live ({order.status.value.replace('_', ' ')}): it is still being fulfilled. "
                "Nothing was changed.",
            )
        )
        table = self._table
        table.clear()
        for line in order.lines:
            product = self.view.products.get(line.sku)
            table.add_row(
                Text(line.sku, style="bold"),
                Text(product.description if product else ""),
                str(line.quantity),
                str(line.picked),
                Text(line.pick_location or "—"),
            )

    def compose_body(self) -> ComposeResult:
        """Lines and the (disabled) actions."""
        yield self._head
        self._table.add_columns("Product", "Description", "Ordered", "Picked", "Pick location")
        yield self._table
        with Horizontal(id="actions"):
            # Disabled (and so never focused) until the supervisor issue wires them.
            yield Button("Reject item", id="reject", disabled=True)
            yield Button("Cancel order", id="cancel", disabled=True)
            yield Button("Force cancel", id="force-cancel", disabled=True)
        yield Static(
            Text(
                "Reject, cancel and force cancel arrive with the supervisor tools.",
                style="italic",
            ),
            id="actions-note",
            markup=False,
        )

    def on_mount(self) -> None:
        """Say what to do next."""
        super().on_mount()
        self._fill()
        self.set_prompt("Live order: scan another order, or Esc")

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """Another order opens; the rest is refused."""
        if isinstance(scan, OrderCode):
            await order_screen(self).open(scan.order_id)
        else:
            self.refuse_scan(scan, "This order is live: scan another order.")
