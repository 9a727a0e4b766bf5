"""One order: every entry on it in the order the central store recorded them, and its lines."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from putback_tui.dashboard import figures as fig
from putback_tui.dashboard.client import BacklogClient, OrderHistory
from putback_tui.dashboard.screens.base import DashboardScreen
from putback_tui.dashboard.table import Table
from putback_tui.domain.entries import Entry
from putback_tui.domain.wording import plural, units

ENTRY_COLUMNS = (
    "When", "What", "Line", "SKU", "Qty", "Where", "Who", "Terminal", "Outcome", "Reason",
)
LINE_COLUMNS = (
    "Line", "SKU", "Ordered", "Picked", "Put back", "Released", "Rejected", "To put back",
)


def _when(at: datetime) -> Text:
    return fig.text(f"{at.astimezone():%m-%d %H:%M}")


def _lines(entry: Entry) -> str:
    """The order lines an entry is about: a line edit's own, else those it changed."""
    if entry.details.line_no is not None:
        return str(entry.details.line_no)
    return ", ".join(str(n) for n in sorted({c.line_no for c in entry.line_changes}))


def _reason(entry: Entry) -> str:
    """Why it was done: a reject reason, a site's reason code, a supervisor's note."""
    d = entry.details
    parts = [d.reason.value if d.reason else None, d.reason_code, d.note, d.message]
    return " · ".join(p for p in parts if p)


class OrderScreen(DashboardScreen[OrderHistory]):
    """Who did what where on one order.

    Args:
        order_id: the order's ID.
    """

    def __init__(self, order_id: str) -> None:
        super().__init__()
        self.order_id = order_id
        self.title_text = f"putback · order {order_id}"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]
    """Esc goes back to the facility."""

    def body(self) -> ComposeResult:
        """The order in one line, then its entries and its lines."""
        yield Static(Text("Fetching …"), id="order-figures", classes="figures", markup=False)
        with TabbedContent(id="order-tabs"):
            with TabPane("Entries in order", id="entries-tab"):
                entries: DataTable[object] = Table(
                    id="entries", cursor_type="row", zebra_stripes=True
                )
                for label in ENTRY_COLUMNS:
                    entries.add_column(Text(label), key=label.lower())
                yield entries
            with TabPane("Lines", id="lines-tab"):
                lines: DataTable[object] = Table(id="lines", cursor_type="row")
                for label in LINE_COLUMNS:
                    lines.add_column(Text(label), key=label.lower())
                yield lines

    def on_mount(self) -> None:
        """The entries table has the keys."""
        self.query_one("#entries", DataTable).focus()

    def fetch(self, client: BacklogClient) -> OrderHistory:
        """``GET /v1/orders/{order_id}/history``."""
        return client.order_history(self.order_id)

    def show(self, data: OrderHistory) -> None:
        """Fill the order's line, its entries and its lines."""
        order = data.order
        picked = sum(line.picked for line in order.lines)
        back = sum(line.put_back for line in order.lines)
        head = Text()
        head.append(order.order_id, style="bold")
        head.append(f" · {order.facility} · {order.status.value}")
        if order.status_changed_at is not None:
            head.append(f" since {order.status_changed_at.astimezone():%Y-%m-%d %H:%M}")
        head.append(
            f" · {plural(len(order.lines), 'line')} · {units(picked)} picked, {back} put back"
            f" · {plural(len(data.entries), 'entry', 'entries')}"
        )
        self.query_one("#order-figures", Static).update(head)

        entries: DataTable[object] = self.query_one("#entries", DataTable)
        entries.clear()
        for item in data.entries:
            e, d = item.entry, item.entry.details
            where = d.location or ""
            if d.from_location:
                where = f"{d.from_location}→{where}" if where else d.from_location
            outcome = (
                fig.text("applied", fig.ON_TIME)
                if item.outcome == "applied"
                else fig.text(f"refused: {item.reason or ''}", "bold red")
            )
            entries.add_row(
                _when(e.created_at),
                fig.text(e.kind.value.replace("_", " "), "bold"),
                fig.text(_lines(e)),
                fig.text(d.sku or ""),
                fig.text(d.quantity if d.quantity is not None else ""),
                fig.text(where),
                fig.text(e.operator),
                fig.text(e.terminal),
                outcome,
                fig.text(_reason(e)),
                key=f"{item.position}",
            )
        lines: DataTable[object] = self.query_one("#lines", DataTable)
        lines.clear()
        for line in order.lines:
            lines.add_row(
                fig.text(line.line_no),
                fig.text(line.sku, "bold"),
                fig.text(line.quantity),
                fig.text(line.picked),
                fig.text(line.put_back),
                fig.text(line.released),
                fig.text(line.rejected),
                fig.count(line.to_put_back, "bold yellow"),
                key=str(line.line_no),
            )
