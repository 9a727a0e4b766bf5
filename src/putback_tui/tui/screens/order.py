"""Order: the worklist of waiting exception orders; scan or type any order ID, or open a row.

Each kind of order gets its own outcome. Under the prompt: the summary of the order last
finished here (if any), then the worklist (:mod:`putback_tui.worklist`), most urgent first:
Enter opens the row under the cursor (the top one, unless the arrows moved it).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import Static

from putback_tui.barcodes import BadgeCode, OrderCode, Scan
from putback_tui.domain.entries import Entry
from putback_tui.domain.wording import orders as _orders
from putback_tui.domain.wording import units as _units
from putback_tui.sla import SlaState, duration
from putback_tui.station import OrderView, Outcome
from putback_tui.tui.dialogs.claimed import ClaimedDialog, claim_cell
from putback_tui.tui.messages import OrderOpened
from putback_tui.tui.screens.base import ScanScreen, undo_put_back
from putback_tui.tui.widgets import Column, LineTable, Row
from putback_tui.wire import Claim
from putback_tui.worklist import Worklist, WorklistRow

WORKLIST_COLUMNS = (
    Column("Order"),
    Column("Kind"),
    Column("Waiting", "right"),
    Column("Units", "right"),
    Column("SLA"),
    Column("Score and why", shrink=True),
)
"""The worklist's columns: the reasons for the rank give way first when space is short."""

SLA_STYLES = {
    SlaState.OVERDUE: "bold red",
    SlaState.DUE_SOON: "bold yellow",
    SlaState.ON_TIME: "green",
}
"""The SLA state's colour (the words say it too)."""


def worklist_rows(
    worklist: Worklist, limit: int, claims: Mapping[str, Claim] | None = None
) -> list[Row]:
    """The first ``limit`` waiting orders as table rows, keyed by order ID.

    An order another terminal is clearing (``claims``) says so first in its last column, and
    comes after every order nobody is clearing (each group most urgent first): Enter on the
    top row opens work no other station has in hand.
    """
    claims = claims or {}
    # sorted() is stable: each group keeps the score order.
    ranked = sorted(worklist.rows, key=lambda r: r.order_id in claims) if claims else worklist.rows
    return [
        Row(
            r.order_id,
            (
                r.order_id,
                r.kind_text,
                duration(r.age_minutes),
                str(r.units_to_put_back),
                Text(r.sla_text, style=SLA_STYLES[r.sla]),
                _why(r, claims.get(r.order_id)),
            ),
        )
        for r in ranked[:limit]
    ]


def _why(row: WorklistRow, claim: Claim | None) -> str | Text:
    why = f"{row.score:g}: {', '.join(row.why_short)}"
    if claim is None:
        return why
    # The table styles whole cells: the claim colours the whole of it.
    return Text(f"{claim_cell(claim)} · {why}", style=CLAIM_STYLE)


CLAIM_STYLE = "bold cyan"
"""How "at PACK-02 · SV-0001 · since ..." stands out on the worklist."""


def worklist_headline(worklist: Worklist | None) -> Text:
    """The line above the worklist: how many wait, how many are late, and what Enter does."""
    if worklist is None:
        return Text("Reading the waiting orders…", style="dim", no_wrap=True)
    if not worklist.waiting:
        return Text(
            "Nothing waiting: no exception order here holds units to put back.",
            no_wrap=True,
            overflow="ellipsis",
        )
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"Waiting: {_orders(worklist.waiting)}", style="bold")
    if worklist.overdue:
        text.append(f", {worklist.overdue} overdue", style="bold red")
    text.append(".  ")
    text.append("Enter", style="bold")
    text.append(" opens the top one, ")
    text.append("↑↓", style="bold")
    text.append(" choose.")
    return text


def summary_table(view: OrderView, entries: list[Entry]) -> Table:
    """The order's lines as they stand: picked, put back, released, and where units went.

    A Rejected column too where any line has rejected units (a rejected order's unpicked units
    are re-routed, not released).
    """
    rejected = any(line.rejected for line in view.order.lines)
    table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
    table.add_column("Product", no_wrap=True)
    table.add_column("Description", overflow="ellipsis", no_wrap=True, ratio=1)
    for name in ("Ordered", "Picked", "Put back", "Released", "Rejected")[: 5 if rejected else 4]:
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
            *([str(line.rejected)] if rejected else []),
            Text(", ".join(where)),
        )
    return table


class OrderScreen(ScanScreen):
    """Waits for an order ID; shows what opening it did, and the summary of a finished order."""

    TITLE_TEXT = "order"

    def __init__(self) -> None:
        super().__init__()
        self._summary = Static("", id="summary", markup=False)
        self._worklist_head = Static("", id="worklist-head", markup=False)
        self._worklist = LineTable(WORKLIST_COLUMNS, id="worklist")
        self._headline_shown: Text | None = None
        self._summary_clear = False
        self.order_in_hand: str | None = None
        """The order last finished here: Ctrl+Z can still undo its last put-back."""
        self.entries: dict[str, list[Entry]] = {}
        """Put-backs confirmed in this session, per order (for "put away to")."""

    def compose_body(self) -> ComposeResult:
        """The summary of the last order (or how to start), then the worklist."""
        yield self._summary
        yield self._worklist_head
        yield self._worklist

    def on_mount(self) -> None:
        """Ask for an order; read the worklist."""
        super().on_mount()
        self.set_prompt("Scan or type an order ID")
        self.clear_summary()
        self.show_worklist(self.putback.worklist, top=True)
        self.putback.refresh_worklist(force=True)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Back in front: the most urgent order on top again, and the list brought up to date."""
        super().on_screen_resume(event)
        self._worklist.move_cursor(0)
        self.putback.refresh_worklist()
        self.putback.announce_new_exceptions()

    def show_worklist(self, worklist: Worklist | None, *, top: bool = False) -> None:
        """Show the waiting orders; the cursor stays on its order unless ``top``.

        Rows and headline are redrawn only when they changed: most reads (a sync round after
        a put-back elsewhere on the list, the minute tick with no clock crossing a minute in
        the first rows) change nothing shown.
        """
        limit = self.putback.settings.worklist.rows
        rows = [] if worklist is None else worklist_rows(worklist, limit, self.putback.claims)
        table = self._worklist
        if tuple(rows) != table.rows:
            key = None if top else table.cursor_key
            keys = [r.key for r in rows]
            table.set_rows(rows, cursor=keys.index(key) if key in keys else 0)
        elif top:
            table.move_cursor(0)
        table.visible = bool(rows)  # hidden, it keeps its space: nothing jumps
        if rows and self.focused is None:
            table.focus()  # arrows and Enter reach it
        headline = worklist_headline(worklist)
        if headline != self._headline_shown:
            self._headline_shown = headline
            self._worklist_head.update(headline)

    async def on_line_table_selected(self, event: LineTable.Selected) -> None:
        """Enter (or a click) on a waiting order opens it."""
        event.stop()
        await self.open(event.key)

    def clear_summary(self) -> None:
        """Show how to start instead of a summary."""
        if self._summary_clear:
            return  # most opens land here: no layout pass for the same words
        self._summary_clear = True
        self._summary.update(
            Text.assemble(
                "Any order's barcode or ID works here too.  ",
                ("Esc", "bold"),
                " signs you out.  ",
                ("F1", "bold"),
                " help.",
            ),
            layout=True,  # its height follows its content (the worklist takes the rest)
        )

    def show_summary(self, view: OrderView, headline: str) -> None:
        """Show an order's lines under a headline."""
        entries = self.entries.get(view.order.order_id, [])
        self._summary_clear = False
        self._summary.update(
            Group(Text(headline, style="bold"), Text(""), summary_table(view, entries)),
            layout=True,  # its height follows its content (the worklist takes the rest)
        )

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """An order opens; a badge signs another operator in; the rest is refused."""
        if isinstance(scan, OrderCode):
            await self.open(scan.order_id)
        elif isinstance(scan, BadgeCode):
            await self.putback.navigator.sign_in(self, scan.badge)
        else:
            self.refuse_scan(scan, "Scan an order.")

    async def open(self, order_id: str) -> None:
        """Open an order and show its outcome (from any screen: the stack unwinds to here).

        Args:
            order_id: The order ID as classified (printable, matches the site's pattern).
        """
        app = self.putback
        if (claim := app.claimed_elsewhere(order_id)) is not None:
            await app.push_screen(
                ClaimedDialog(claim), callback=partial(self._claimed_answer, order_id)
            )
            return
        view = await app.attempt(partial(app.station.open_order, order_id), group="open")
        if view is None:
            # Refused: the last order's summary no longer describes what is in front.
            if self.is_current:
                self.order_in_hand = None
                self.clear_summary()
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
            target = app.navigator.live_order(view)
        else:
            self.clear_summary()
            (app.done if view.released is not None else app.info)(view.message)
            target = app.navigator.put_back(view)
        await app.bring_forward(self, target)

    async def _claimed_answer(self, order_id: str, yes: bool | None) -> None:
        """The answer to "being cleared elsewhere": open it (taking the claim over), or not."""
        if not yes:
            self.putback.info(f"Order {order_id} was not opened. Scan or choose another order.")
            return
        self.putback.take_over(order_id)
        await self.open(order_id)

    async def resume_live(self, view: OrderView, said: str) -> None:
        """A live order's put-back (after a line edit) is finished: show the live order again."""
        app = self.putback
        live = app.navigator.live_order(view)
        app.done(f"{said} Order {view.order.order_id} stays live.")
        await app.bring_forward(self, live)

    async def completed(self, view: OrderView) -> None:
        """A put-back finished the order: unwind to here and show the summary."""
        app = self.putback
        order_id = view.order.order_id
        self.order_in_hand = order_id
        units = sum(line.put_back for line in view.order.lines)
        self.show_summary(view, f"Order {order_id} is done.")
        app.done(
            f"Order {order_id} done: {_units(units)} put back, "
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
            await app.navigator.to_put_back(view)

    async def action_back(self) -> None:
        """Esc: sign out (nothing is lost: every put-back is already recorded)."""
        app = self.putback
        app.station.sign_out()
        app.set_status(operator=None)
        app.info("Signed out. Scan your badge to sign in.")
        await app.pop_screen()

