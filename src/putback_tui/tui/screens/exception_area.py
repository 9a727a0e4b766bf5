"""The exception area: what sits there and for how long; move units out with three scans.

Moving out is: scan the exception location, scan the item (type a quantity first for several
units), scan the storage location. Then QOH moves from the exception location to the storage
location and ATP goes up by the units moved (docs/rules.md section 9): they are on sale again.
"""

from __future__ import annotations

import re
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from putback_tui.barcodes import LocationCode, OrderCode, ProductCode, Scan
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import Location, LocationKind, Product
from putback_tui.domain.wording import plural, waited
from putback_tui.domain.wording import units as _units
from putback_tui.station import ExceptionStock
from putback_tui.tui.messages import MovedOut
from putback_tui.tui.screens.base import ScanScreen
from putback_tui.tui.widgets import Column, Headline, LineTable, Row

QUANTITY = re.compile(r"[0-9]{1,3}")
COLUMNS = (
    Column("Location"),
    Column("Product"),
    Column("Description", shrink=True),
    Column("Units", "right"),
    Column("There since"),
    Column("Waiting"),
)
"""A typed quantity: up to 999 (a GTIN has at least 8 digits)."""


class ExceptionAreaScreen(ScanScreen):
    """Lists the exception stock, oldest first; scans move units out into storage."""

    TITLE_TEXT = "exception area"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ExceptionStock] = []
        self.source: Location | None = None
        """The exception location scanned (step 1)."""
        self.product: Product | None = None
        """The item scanned (step 2)."""
        self.quantity: int | None = None
        """A typed quantity for the move (None: one unit)."""
        self._head = Headline(id="order-head")
        self._table = LineTable(COLUMNS, id="lines")
        self._steps = Static("", id="area-steps", markup=False)

    def compose_body(self) -> ComposeResult:
        """Summary, the stock table, the steps."""
        yield self._head
        yield self._table
        yield self._steps

    def on_mount(self) -> None:
        """Build the table and show the first step."""
        super().on_mount()
        self._fill()
        self._redraw()

    async def refresh_stock(self) -> None:
        """Read what sits in the exception area now."""
        app = self.putback
        rows = await app.attempt(app.station.exception_stock, group="lookup", write=False)
        if rows is not None:
            self.rows = rows
            if self.is_mounted:
                self._fill()
                self._redraw()

    def reset(self) -> None:
        """Forget every step (before the screen is pushed again)."""
        self.source = None
        self.product = None
        self.quantity = None
        if self.is_mounted:
            self._redraw()

    def _fill(self) -> None:
        now = self.putback.clock()
        units = sum(r.qoh for r in self.rows)
        places = len({r.location for r in self.rows})
        self._head.show(
            Text.assemble(
                (f"{_units(units)}", "bold"),
                f" in {plural(places, 'exception location')}: counted on hand, "
                "not for sale until moved out."
                if units
                else " in the exception area: nothing waits there.",
            )
        )
        self._table.set_rows([
            Row(f"{row.location}\t{row.sku}", (
                Text(row.location, style="bold"),
                row.sku,
                row.description,
                str(row.qoh),
                row.since.astimezone().strftime("%Y-%m-%d %H:%M") if row.since else "—",
                waited(row.since, now),
            ))
            for row in self.rows
        ], cursor=0)

    def _redraw(self) -> None:
        steps = Text()
        marks = (self.source is not None, self.product is not None)
        labels = (
            "Scan the exception location",
            "Scan the item (type a quantity first for several)",
            "Scan the storage location",
        )
        for i, label in enumerate(labels):
            done = i < len(marks) and marks[i]
            steps.append(f"{'✔' if done else str(i + 1)} ", style="bold")
            steps.append(label, style="dim" if done else "")
            steps.append("   " if i < 2 else "")
        pending = []
        if self.source is not None:
            pending.append(f"From {self.source.code}")
        if self.product is not None:
            pending.append(f"{_units(self.quantity or 1)} of {self.product.sku}")
            if self.product.home_location:
                pending.append(f"home {self.product.home_location}")
        if pending:
            steps.append("\n" + "  ·  ".join(pending), style="bold yellow")
        self._steps.update(steps)
        if self.source is None:
            self.set_prompt("Move out: scan the exception location (e.g. LOC:EX-01), or Esc")
        elif self.product is None:
            self.set_prompt(f"Scan the item to move out of {self.source.code}")
        else:
            home = self.product.home_location
            self.set_prompt(f"Scan the storage location{f' ({home})' if home else ''}")

    # -- scans ---------------------------------------------------------------------------------

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """Exception location, item, typed quantity, storage location."""
        app = self.putback
        typed = text.strip()
        if QUANTITY.fullmatch(typed) and self.product is not None:
            self._set_quantity(int(typed))
        elif isinstance(scan, LocationCode):
            location = await app.attempt(
                partial(app.station.location, scan.code), group="lookup", write=False
            )
            if location is None:
                return
            if self.product is None or location.kind is LocationKind.EXCEPTION:
                self._set_source(location)
            else:
                await self._move_to(location)
        elif isinstance(scan, ProductCode):
            await self._set_product(scan.gtin14)
        elif isinstance(scan, OrderCode):
            await self.putback.navigator.open_order(scan.order_id)
        else:
            self.refuse_scan(scan, self.prompt_text())

    def prompt_text(self) -> str:
        """What the next scan should be."""
        if self.source is None:
            return "Scan the exception location."
        if self.product is None:
            return "Scan the item."
        return "Scan the storage location."

    def _set_source(self, location: Location) -> None:
        app = self.putback
        try:
            app.station.check_location(location, allowed=(LocationKind.EXCEPTION,))
        except Refused as refused:
            app.refuse(str(refused), refused.code)
            return
        self.source = location
        self.product = None
        self.quantity = None
        here = sum(r.qoh for r in self.rows if r.location == location.code)
        app.info(f"{location.code}: {_units(here)} there. Scan the item to move out.")
        self._redraw()

    async def _set_product(self, gtin14: str) -> None:
        app = self.putback
        if self.source is None:
            app.refuse("Scan the exception location first.", "location_first")
            return
        product = await app.attempt(
            partial(app.station.product_by_gtin, gtin14), group="lookup", write=False
        )
        if product is None:
            return
        there = sum(
            r.qoh for r in self.rows if r.location == self.source.code and r.sku == product.sku
        )
        if not there:
            app.refuse(f"No {product.sku} sits in {self.source.code}.", "not_enough_stock")
            return
        self.product = product
        self.quantity = None
        home = f" ({product.home_location} is its home)" if product.home_location else ""
        app.info(
            f"{product.sku}: {_units(there)} in {self.source.code}. Scan the storage "
            f"location{home}, or type a quantity first."
        )
        self._redraw()

    def _set_quantity(self, quantity: int) -> None:
        app = self.putback
        assert self.source is not None
        assert self.product is not None
        there = sum(
            r.qoh
            for r in self.rows
            if r.location == self.source.code and r.sku == self.product.sku
        )
        if not 1 <= quantity <= there:
            app.refuse(
                f"Quantity must be 1 to {there} ({self.product.sku} in {self.source.code}), "
                f"not {quantity}.",
                "invalid_quantity",
            )
            return
        self.quantity = quantity
        app.info(f"Quantity {quantity}: scan the storage location to move {_units(quantity)}.")
        self._redraw()

    async def _move_to(self, target: Location) -> None:
        app = self.putback
        assert self.source is not None
        assert self.product is not None
        quantity = self.quantity or 1
        call = partial(
            app.station.move_out, self.product.sku, self.source.code, target.code, quantity
        )
        entry = await app.attempt(call, group="move-out")
        if entry is None:
            return
        app.post_message(MovedOut(entry))
        sku = self.product.sku
        self.product = None
        self.quantity = None
        await self.refresh_stock()
        if not any(r.location == self.source.code for r in self.rows):
            self.source = None
        self._redraw()
        app.done(
            f"Moved {_units(quantity)} of {sku} from {entry.details.from_location} to "
            f"{target.code}: for sale again (ATP + {quantity})."
        )

    async def action_back(self) -> None:
        """Esc: drop the quantity, then the item, then the exception location, then leave."""
        app = self.putback
        if self.quantity is not None:
            self.quantity = None
            app.info("Cleared the quantity.")
        elif self.product is not None:
            self.product = None
            app.info("Cleared the item. Scan the item.")
        elif self.source is not None:
            self.source = None
            app.info("Cleared the exception location.")
        else:
            app.info("Left the exception area.")
            await app.pop_screen()
            return
        self._redraw()
