"""Order: scan or type an order ID; each kind of order gets its own outcome."""

from __future__ import annotations

from functools import partial

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from putback_tui.barcodes import BadgeCode, OrderCode, Scan
from putback_tui.domain.entries import Entry
from putback_tui.station import OrderView, Outcome
from putback_tui.tui.messages import OrderOpened, PutBackUndone
from putback_tui.tui.screens.base import ScanScreen, describe_undo


def summary_table(view: OrderView, entries: list[Entry]) -> Table:
    """The order's lines as they stand: picked, put back, released, and where units went."""
    table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
    table.add_column("Product", no_wrap=True)
    table.add_column("Description", overflow="ellipsis", no_wrap=True, ratio=1)
    for name in ("Ordered", "Picked", "Put back", "Released"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Put away to", no_wrap=True)
    for line in view.order.lines:
        product = view.products.get(line.sku)
        where = sorted(
            {
                e.details.location
                for e in entries
                if e.details.location and e.details.sku == line.sku
                and any(c.line_no == line.line_no for c in e.line_changes)
            }
        )
        table.add_row(
            Text(line.sku),
            Text(product.description if product else ""),
            str(line.quantity),
            str(line.picked),
            str(line.put_back),
            str(line.released),
            Text(", ".join(where)),
        )
    return table


class OrderScreen(ScanScreen):
    """Waits for an order ID; shows what opening it did, and the summary of a finished order."""

    TITLE_TEXT = "order"

    def __init__(self) -> None:
        super().__init__()
        self._summary = Static("", id="summary", markup=False)
        self.order_in_hand: str | None = None
        """The order last finished here: Ctrl+Z can still undo its last put-back."""
        self.entries: dict[str, list[Entry]] = {}
        """Put-backs confirmed in this session, per order (for "put away to")."""

    def compose_body(self) -> ComposeResult:
        """The summary of the last order (or how to start)."""
        yield self._summary

    def on_mount(self) -> None:
        """Ask for an order."""
        super().on_mount()
        self.set_prompt("Scan or type an order ID")
        self.clear_summary()

    def clear_summary(self) -> None:
        """Show how to start instead of a summary."""
        self._summary.update(
            Text.assemble(
                "Scan the order's barcode, or type its ID (e.g. D-1002) and press Enter.\n\n",
                ("Esc", "bold"),
                " signs you out.  ",
                ("F1", "bold"),
                " help.",
            ),
            layout=False,
        )

    def show_summary(self, view: OrderView, headline: str) -> None:
        """Show an order's lines under a headline."""
        entries = self.entries.get(view.order.order_id, [])
        self._summary.update(
            Group(Text(headline, style="bold"), Text(""), summary_table(view, entries)),
            layout=False,
        )

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """An order opens; a badge signs another operator in; the rest is refused."""
        if isinstance(scan, OrderCode):
            await self.open(scan.order_id)
        elif isinstance(scan, BadgeCode):
            from putback_tui.tui.screens.sign_in import sign_in

            await sign_in(self, scan.badge)
        else:
            self.refuse_scan(scan, "Scan an order.")

    async def open(self, order_id: str) -> None:
        """Open an order and show its outcome (from any screen: the stack unwinds to here).

        Args:
            order_id: The order ID as classified (printable, matches the site's pattern).
        """
        from putback_tui.tui.screens.live_order import LiveOrderScreen
        from putback_tui.tui.screens.put_back import PutBackScreen

        app = self.putback
        view = await app.attempt(partial(app.station.open_order, order_id), group="open")
        if view is None:
            return
        app.post_message(OrderOpened(view))
        self.order_in_hand = None
        target: ScanScreen | None = None
        if view.outcome is Outcome.RELEASED:
            self.show_summary(view, f"Order {order_id} is done: nothing was picked.")
            app.done(view.message)
        elif view.outcome is Outcome.RECONCILED:
            self.show_summary(view, f"Order {order_id} was reconciled earlier.")
            app.notice(view.message)
        elif view.outcome is Outcome.LIVE:
            self.clear_summary()
            app.notice(view.message)
            live = target = app.reusable(LiveOrderScreen)
            live.load(view)
        else:
            self.clear_summary()
            (app.done if view.released is not None else app.info)(view.message)
            items = target = app.reusable(PutBackScreen)
            items.load(view)
        await app.bring_forward(self, target)

    async def resume_live(self, view: OrderView, said: str) -> None:
        """A live order's put-back (after a line edit) is finished: show the live order again."""
        from putback_tui.tui.screens.live_order import LiveOrderScreen

        app = self.putback
        live = app.reusable(LiveOrderScreen)
        live.load(view)
        app.done(f"{said} Order {view.order.order_id} stays live.")
        await app.bring_forward(self, live)

    async def put_back_now(self, view: OrderView) -> None:
        """Start the put-back of ``view``'s order right away (force cancel, line edits)."""
        from putback_tui.tui.screens.put_back import PutBackScreen

        app = self.putback
        self.clear_summary()
        items = app.reusable(PutBackScreen)
        items.load(view)
        await app.bring_forward(self, items)

    async def completed(self, view: OrderView) -> None:
        """A put-back finished the order: unwind to here and show the summary."""
        app = self.putback
        order_id = view.order.order_id
        self.order_in_hand = order_id
        units = sum(line.put_back for line in view.order.lines)
        self.show_summary(view, f"Order {order_id} is done.")
        app.done(
            f"Order {order_id} done: {units} unit{'s' if units != 1 else ''} put back, "
            "every line reconciled. Scan the next order."
        )
        await app.bring_forward(self)

    def record(self, entry: Entry) -> None:
        """Remember a confirmed put-back for the summary."""
        if entry.order_id:
            self.entries.setdefault(entry.order_id, []).append(entry)

    def forget(self, undo: Entry) -> None:
        """Drop the put-back an undo entry compensates."""
        if undo.order_id and undo.details.undoes:
            entries = self.entries.get(undo.order_id, [])
            self.entries[undo.order_id] = [e for e in entries if e.entry_id != undo.details.undoes]

    async def undo(self) -> None:
        """Ctrl+Z after an order finished: undo its last put-back and resume the order."""
        from putback_tui.tui.screens.put_back import PutBackScreen

        order_id = self.order_in_hand
        if order_id is None:
            await super().undo()
            return
        entry = await undo_put_back(self, order_id)
        if entry is None:
            return
        app = self.putback
        view = await app.attempt(partial(app.station.view, order_id), group="lookup", write=False)
        if view is not None and not view.order.reconciled:
            self.order_in_hand = None
            self.clear_summary()
            items = app.reusable(PutBackScreen)
            items.load(view)
            await app.bring_forward(self, items)

    async def action_back(self) -> None:
        """Esc: sign out (nothing is lost: every put-back is already recorded)."""
        app = self.putback
        app.station.sign_out()
        app.set_status(operator=None)
        app.info("Signed out. Scan your badge to sign in.")
        await app.pop_screen()


def order_screen(screen: ScanScreen) -> OrderScreen:
    """The order screen under ``screen`` (there is always one while signed in)."""
    for candidate in reversed(screen.app.screen_stack):
        if isinstance(candidate, OrderScreen):
            return candidate
    raise LookupError("no order screen: nobody is signed in")


async def undo_put_back(screen: ScanScreen, order_id: str) -> Entry | None:
    """Undo the last put-back of ``order_id`` and say so; None if refused (reason shown)."""
    app = screen.putback
    entry = await app.attempt(partial(app.station.undo_last_put_back, order_id), group="undo")
    if entry is None:
        return None
    order_screen(screen).forget(entry)
    app.post_message(PutBackUndone(entry))
    app.done(describe_undo(entry))
    return entry
