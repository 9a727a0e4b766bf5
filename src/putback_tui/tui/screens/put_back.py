"""Put-back, item select: the outstanding lines; a product scan (or arrows and Enter) picks one."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult

from putback_tui.barcodes import OrderCode, ProductCode, Scan
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import OrderLine
from putback_tui.domain.wording import lines as _lines
from putback_tui.domain.wording import units as _units
from putback_tui.station import OrderView
from putback_tui.tui.screens.base import ScanScreen, undo_put_back
from putback_tui.tui.widgets import Column, Headline, LineTable, Row

COLUMNS = (
    Column("Product"),
    Column("Description", shrink=True),
    Column("Picked", "right"),
    Column("Put back", "right"),
    Column("Left", "right"),
    Column("Goes to"),
)


class PutBackScreen(ScanScreen):
    """Lists what is left to put back; choosing a line leads to the location step."""

    TITLE_TEXT = "put back · choose the item"

    def __init__(self) -> None:
        super().__init__()
        self._view: OrderView | None = None
        self._stale = False
        """A newer view came while the location step covered this screen: drawn on return."""
        self._stale_cursor: int | None = None
        self._head = Headline(id="order-head")
        self._table = LineTable(COLUMNS, id="lines")

    @property
    def view(self) -> OrderView:
        """The order in hand, as last read."""
        if self._view is None:
            raise LookupError("no order loaded")
        return self._view

    def load(self, view: OrderView) -> None:
        """Take a new order in hand (before the screen is pushed)."""
        self._view = view
        if self.is_mounted:
            self.refresh_title()
            self.set_view(view, cursor=0)
            self._table.focus()

    @property
    def order_id(self) -> str:
        """The order in hand."""
        return self.view.order.order_id

    def title_text(self) -> str:
        """Name the order in the title."""
        if self._view is None:
            return "putback · put back · choose the item"
        return f"putback · order {self.order_id} · put back · choose the item"

    def compose_body(self) -> ComposeResult:
        """Order headline and the table of outstanding lines."""
        yield self._head
        yield self._table

    def on_mount(self) -> None:
        """Fill the table and give it the arrow keys."""
        super().on_mount()
        self.set_prompt("Scan an item to put back, or choose its line (arrows, Enter)")
        if self._view is not None:
            self._draw(self._view, cursor=None)
        self._table.focus()

    def set_view(self, view: OrderView, *, cursor: int | None = None) -> None:
        """Show the order as it now stands (the cursor stays on its row unless given).

        While another screen covers this one (the location step, after each put-back), only
        the view is kept: the table is drawn when the screen is back in front, in the same
        repaint, rather than on every unit scanned.
        """
        self._view = view
        if self.is_mounted and not self.is_current:
            self._stale = True
            self._stale_cursor = cursor if cursor is not None else self._stale_cursor
            return
        self._draw(view, cursor=cursor)

    @on(events.ScreenResume)
    def _draw_if_stale(self) -> None:
        """Draw a view that came while covered (before the screen is painted)."""
        if self._stale and self._view is not None:
            self._draw(self._view, cursor=self._stale_cursor)
        self._stale = False
        self._stale_cursor = None

    def _draw(self, view: OrderView, *, cursor: int | None) -> None:
        order = view.order
        left = [line for line in order.lines if order.owed(line)]
        units = order.units_owed
        # A live order's other lines are still being fulfilled, not reconciled.
        done = len(order.lines) - len(left) if order.status.is_exception else 0
        self._head.show(
            Text.assemble(
                (f"Order {order.order_id}", "bold"),
                f" ({order.status.value.replace('_', ' ')})  ·  "
                f"{_units(units)} on {_lines(len(left))} to put back",
                f"  ·  {_lines(done)} reconciled" if done else "",
            )
        )
        rows = []
        for line in left:
            product = view.products.get(line.sku)
            rows.append(Row(str(line.line_no), (
                Text(line.sku, style="bold"),
                product.description if product else "",
                str(line.picked),
                str(line.put_back),
                Text(str(order.owed(line)), style="bold"),
                view.suggestions.get(line.line_no) or "—",
            )))
        self._table.set_rows(rows, cursor=cursor)

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A product selects its line; an order switches orders; the rest is refused."""
        if isinstance(scan, ProductCode):
            app = self.putback
            product = await app.attempt(
                partial(app.station.product_by_gtin, scan.gtin14), group="lookup", write=False
            )
            if product is None:
                return
            try:
                line = app.station.line_for_product(self.view.order, product.sku)
            except Refused as refused:
                app.refuse(str(refused), refused.code)
                return
            await self.choose(line)
        elif isinstance(scan, OrderCode):
            await self.putback.navigator.open_order(scan.order_id)
        else:
            self.refuse_scan(scan, "Scan the item first (or choose its line), then its location.")

    async def on_line_table_selected(self, event: LineTable.Selected) -> None:
        """Enter (or a click) on a line chooses it."""
        event.stop()
        line = self.view.order.line(int(event.key))
        if self.view.order.owed(line):
            await self.choose(line)

    async def choose(self, line: OrderLine) -> None:
        """Go to the location step for ``line``."""
        product = self.view.products.get(line.sku)
        self.putback.info(
            f"{line.sku}: scan the location, then the item once per unit "
            f"({self.view.order.owed(line)} left)."
        )
        await self.putback.navigator.to_location(self, line.line_no, product)

    async def undo(self) -> None:
        """Ctrl+Z: undo the order's last put-back and show the lines again."""
        if await undo_put_back(self, self.order_id) is None:
            return
        app = self.putback
        view = await app.attempt(
            partial(app.station.view, self.order_id), group="lookup", write=False
        )
        if view is not None:
            self.set_view(view)

    async def action_back(self) -> None:
        """Esc: leave the order (everything confirmed is already recorded)."""
        self.putback.info(
            f"Left order {self.order_id}: its put-backs so far are recorded. Scan an order."
        )
        await self.app.pop_screen()
