"""Put-back, location step: the suggested location large; scan the location, then each unit."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from putback_tui.barcodes import LocationCode, OrderCode, ProductCode, Scan
from putback_tui.domain.errors import LotRequired, Refused
from putback_tui.domain.models import Location, LocationKind, OrderLine, Product
from putback_tui.domain.wording import units as _units
from putback_tui.tui.messages import PutBackConfirmed
from putback_tui.tui.screens.base import ScanScreen, undo_put_back
from putback_tui.tui.widgets import Headline, LocationSign

if TYPE_CHECKING:
    from putback_tui.tui.screens.put_back import PutBackScreen

QUANTITY = re.compile(r"[0-9]{1,3}")
"""A typed quantity: up to 999. A GTIN has at least 8 digits, so the two never collide."""

LOT = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")
"""A typed lot: GS1 AI (10) allows up to 20 characters of this set (GS1 "CSET 82")."""

PUT_BACK_KINDS = (LocationKind.STORAGE, LocationKind.EXCEPTION)


class LocationScreen(ScanScreen):
    """One line in hand: a location scan, then one item scan per unit (or a typed quantity)."""

    TITLE_TEXT = "put back · location and units"

    def __init__(self) -> None:
        super().__init__()
        self._items: PutBackScreen | None = None
        self.line_no = 0
        self.product: Product | None = None
        self.location: Location | None = None
        """The location scanned for this line (None until scanned)."""
        self.quantity: int | None = None
        """A typed quantity for the next item scan (None: one unit per scan)."""
        self.lot_wanted_for: str | None = None
        """SKU of a lot-tracked item scanned without its lot: the next typed text is the lot."""
        self._product_line = Headline(id="product")
        self._sign = LocationSign(id="sign")
        self._steps = Static("", id="steps", markup=False)
        self._steps_shown: Text | None = None
        """What the steps panel shows: rewritten (and repainted, 12 lines) only on a change."""

    def load(self, items: PutBackScreen, line_no: int, product: Product | None) -> None:
        """Take a line in hand (before the screen is pushed): nothing scanned or typed yet."""
        self._items = items
        self.line_no = line_no
        self.product = product
        self.location = None
        self.quantity = None
        self.lot_wanted_for = None
        if self.is_mounted:
            self.refresh_title()
            self._redraw()

    @property
    def items(self) -> PutBackScreen:
        """The item list this line was chosen from (it holds the order as last read)."""
        if self._items is None:
            raise LookupError("no line loaded")
        return self._items

    @property
    def order_id(self) -> str:
        """The order in hand."""
        return self.items.order_id

    @property
    def line(self) -> OrderLine:
        """The line in hand, as it now stands."""
        return self.items.view.order.line(self.line_no)

    @property
    def left(self) -> int:
        """Units of the line in hand still to put back."""
        return self.items.view.order.owed(self.line)

    @property
    def suggestion(self) -> str | None:
        """Where the item should go."""
        return self.items.view.suggestions.get(self.line_no)

    def title_text(self) -> str:
        """Name the order and line in the title."""
        if self._items is None:
            return "putback · put back · location and units"
        return f"putback · order {self.order_id} · line {self.line_no} · location and units"

    def compose_body(self) -> ComposeResult:
        """Product, location sign, and the steps with what is pending."""
        yield self._product_line
        yield self._sign
        yield self._steps

    def on_mount(self) -> None:
        """Show the suggestion."""
        super().on_mount()
        if self._items is not None:
            self._redraw()

    def _redraw(self) -> None:
        line = self.line
        description = self.product.description if self.product else ""
        self._product_line.show(
            Text.assemble(
                (line.sku, "bold"),
                f"  {description}\n" if description else "\n",
                f"Picked {line.picked}  ·  put back {line.put_back}  ·  ",
                (f"{self.left} left", "bold"),
                ("  ·  lot " + line.lot) if line.lot else "",
            )
        )
        sign = self._sign
        if self.location is None:
            suggestion = self.suggestion
            sign.code = suggestion or ""
            sign.caption = self._suggestion_reason() if suggestion else "No suggestion: any shelf"
            sign.confirmed = False
            self.set_prompt(f"Scan the location{f' ({suggestion})' if suggestion else ''}")
        else:
            sign.code = self.location.code
            sign.caption = (
                "Scanned: exception area (not sellable until moved out)"
                if self.location.kind is LocationKind.EXCEPTION
                else "Scanned location"
            )
            sign.confirmed = True
            if self.lot_wanted_for is not None:
                self.set_prompt(f"Type or scan the lot of {self.lot_wanted_for}")
            else:
                self.set_prompt(f"Scan the item once per unit ({self.left} left)")
        pending: list[str] = []
        if self.quantity is not None:
            pending.append(
                f"Quantity {self.quantity}: the next item scan confirms {_units(self.quantity)}."
            )
        if self.lot_wanted_for is not None:
            pending.append(f"Type or scan the lot of {self.lot_wanted_for}, then Enter.")
        steps = Text.assemble(
            ("1 ", "bold"),
            "Scan the location.  ",
            ("2 ", "bold"),
            "Scan the item once per unit, or type a quantity and Enter, then scan it once.",
        )
        if pending:
            steps.append("\n" + "  ".join(pending), style="bold yellow")
        if steps != self._steps_shown:
            self._steps.update(steps, layout=False)
            self._steps_shown = steps

    def _suggestion_reason(self) -> str:
        line = self.line
        if line.pick_location and line.pick_location == self.suggestion:
            return "Suggested: where it was picked from"
        if self.product is not None and self.product.home_location == self.suggestion:
            return "Suggested: its home location"
        return "Suggested: the exception area"

    # -- scans ---------------------------------------------------------------------------------

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """Location, item, typed quantity or lot; an order scan switches orders."""
        typed = text.strip()
        if (
            self.lot_wanted_for is not None
            and not isinstance(scan, ProductCode | LocationCode)
            and LOT.fullmatch(typed)
        ):
            await self._confirm(self.lot_wanted_for, typed)
            return
        if QUANTITY.fullmatch(typed):
            self._set_quantity(int(typed))
        elif isinstance(scan, LocationCode):
            await self._set_location(scan.code)
        elif isinstance(scan, ProductCode):
            await self._item(scan)
        elif isinstance(scan, OrderCode):
            await self.putback.navigator.open_order(scan.order_id)
        else:
            self.refuse_scan(scan, self._expected())

    def _expected(self) -> str:
        if self.lot_wanted_for is not None:
            return f"Type the lot of {self.lot_wanted_for}."
        return "Scan the item." if self.location else "Scan the location."

    def _set_quantity(self, quantity: int) -> None:
        left = self.left
        if quantity < 1:
            self.putback.refuse(f"Quantity must be at least 1, not {quantity}.", "invalid_quantity")
        elif quantity > left:
            self.putback.refuse(
                f"Only {_units(left)} of {self.line.sku} left to put back, not {quantity}.",
                "over_quantity",
            )
        else:
            self.quantity = quantity
            self.putback.info(
                f"Quantity {quantity}: scan the item once to confirm {_units(quantity)}."
            )
        self._redraw()

    async def _set_location(self, code: str) -> None:
        app = self.putback
        location = await app.attempt(
            partial(app.station.location, code), group="lookup", write=False
        )
        if location is None:
            return
        try:
            app.station.check_location(location, allowed=PUT_BACK_KINDS)
        except Refused as refused:
            app.refuse(str(refused), refused.code)
            return
        self.location = location
        other = (
            f" (not the suggested {self.suggestion})"
            if self.suggestion and self.suggestion != location.code
            else ""
        )
        app.info(f"Location {location.code}{other}: now scan the item once per unit.")
        self._redraw()

    async def _item(self, scan: ProductCode) -> None:
        app = self.putback
        if self.location is None and self._other_line(scan) is None:
            suggestion = f": {self.suggestion} is suggested" if self.suggestion else ""
            app.refuse(f"Scan the location first{suggestion}.", "location_first")
            return
        product = await app.attempt(
            partial(app.station.product_by_gtin, scan.gtin14), group="lookup", write=False
        )
        if product is None:
            return
        other = self._other_line(scan, product.sku)
        if other is not None:
            # Another item of this order in hand: take its line (confirmed units stay so).
            self.load(self.items, other.line_no, self.items.view.products.get(other.sku))
            app.info(
                f"Switched to line {other.line_no}, {other.sku} ({other.to_put_back} left): "
                "scan its location, then the item once per unit."
            )
            return
        await self._confirm(product.sku, scan.lot)

    def _other_line(self, scan: ProductCode, sku: str | None = None) -> OrderLine | None:
        """Another line of the order still waiting for the scanned product, if there is one."""
        lines = self.items.view.order.lines
        if sku is None:  # before the lookup: by barcode, from the order's products
            products = self.items.view.products
            skus = {p.sku for p in products.values() if scan.gtin14 in p.gtins}
            sku = next(iter(skus), None)
        if sku is None or sku == self.line.sku:
            return None
        return next((ln for ln in lines if ln.sku == sku and ln.to_put_back), None)

    async def _confirm(self, sku: str, lot: str | None) -> None:
        """Record the put-back; durable before the screen moves on."""
        app = self.putback
        location = self.location
        if location is None:
            app.refuse("Scan the location first.", "location_first")
            return
        quantity = self.quantity or 1
        call = partial(
            app.station.put_back, self.order_id, self.line_no, sku, location.code, quantity, lot=lot
        )
        try:
            entry = await app.call_station(call, group="put-back")
        except LotRequired as refused:
            self.lot_wanted_for = sku
            app.refuse(str(refused), refused.code)
            self._redraw()
            return
        except Refused as refused:
            app.refuse(str(refused), refused.code)
            return
        except Exception as failed:  # LedgerError: nothing was saved, and the screen says so
            app.refuse(str(failed), "ledger_error")
            return
        self.putback.navigator.order_screen().record(entry)
        app.post_message(PutBackConfirmed(entry))
        self.quantity = None
        self.lot_wanted_for = None
        view = await app.attempt(
            partial(app.station.view, self.order_id), group="lookup", write=False
        )
        if view is None:
            return
        self.items.set_view(view)
        line = self.line
        lot_text = f" (lot {lot})" if lot else ""
        said = (
            f"Put back {_units(quantity)} of {sku}{lot_text} to {location.code}: "
            f"{line.put_back} of {line.picked} done."
        )
        if view.order.status.is_live and not view.order.units_owed:
            home = self.putback.navigator.order_screen()
            await home.resume_live(view, f"{said} Nothing more to put back.")
        elif view.order.reconciled:
            await self.putback.navigator.order_screen().completed(view)
        elif not self.left:
            app.done(f"{said} Line done: scan the next item.")
            await app.bring_forward(self.items)
        else:
            app.done(f"{said} Scan the next unit.")
            self._redraw()

    async def undo(self) -> None:
        """Ctrl+Z: undo the order's last put-back; stay on this line."""
        if await undo_put_back(self, self.order_id) is None:
            return
        app = self.putback
        view = await app.attempt(
            partial(app.station.view, self.order_id), group="lookup", write=False
        )
        if view is not None:
            self.items.set_view(view)
            self._redraw()

    async def action_back(self) -> None:
        """Esc: drop the pending lot or quantity, then the location, then leave the line."""
        app = self.putback
        if self.lot_wanted_for is not None or self.quantity is not None:
            self.lot_wanted_for = None
            self.quantity = None
            app.info("Cleared the typed quantity and lot. Scan the item.")
        elif self.location is not None:
            self.location = None
            app.info("Cleared the location. Scan the location.")
        else:
            app.info("Back to the list of items. Nothing was lost.")
            await app.pop_screen()
            return
        self._redraw()
