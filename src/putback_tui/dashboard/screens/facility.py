"""One facility: its waiting orders (age, SLA, why, claim), terminals and top reasons."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Sparkline, Static, TabbedContent, TabPane

from putback_tui.dashboard import figures as fig
from putback_tui.dashboard.client import BacklogClient, FacilityDetail
from putback_tui.dashboard.screens.base import DashboardScreen, clock_time, cursor_key
from putback_tui.dashboard.table import Table
from putback_tui.domain.wording import plural, units


class FacilityScreen(DashboardScreen[FacilityDetail]):
    """The backlog of one facility; Enter on an order opens its history.

    Args:
        facility: the facility's code.
    """

    def __init__(self, facility: str) -> None:
        super().__init__()
        self.facility = facility
        self.title_text = f"putback · facility {facility}"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]
    """Esc goes back to the network view."""

    def body(self) -> ComposeResult:
        """Its figures, the two hourly charts, then tabs: orders, terminals, reasons."""
        yield Static(Text("Fetching …"), id="figures", classes="figures", markup=False)
        with Horizontal(id="charts"):
            with Vertical(classes="chart"):
                yield Static(Text(""), id="incoming-label", classes="chart-label", markup=False)
                yield Sparkline([], id="incoming")
            with Vertical(classes="chart"):
                yield Static(Text(""), id="cleared-label", classes="chart-label", markup=False)
                yield Sparkline([], id="cleared")
        with TabbedContent(id="tabs"):
            with TabPane("Waiting orders", id="orders-tab"):
                orders: DataTable[object] = Table(
                    id="orders", cursor_type="row", zebra_stripes=True
                )
                for label in ("Order", "Age", "SLA", "Units", "Claim", "Why"):
                    orders.add_column(Text(label), key=label.lower())
                yield orders
            with TabPane("Terminals", id="terminals-tab"):
                terminals: DataTable[object] = Table(id="terminals", cursor_type="row")
                for label in ("Terminal", "Last contact", "Ago", "Waiting to send", "Last seq"):
                    terminals.add_column(Text(label), key=label.lower())
                yield terminals
            with TabPane("Top reasons (7 days)", id="reasons-tab"):
                reasons: DataTable[object] = Table(id="reasons", cursor_type="row")
                for label in ("Reason", "Kind", "Entries", "Units"):
                    reasons.add_column(Text(label), key=label.lower())
                yield reasons
            with TabPane("Refused", id="refused-tab"):
                refused: DataTable[object] = Table(id="refused", cursor_type="row")
                for label in ("Received", "Terminal", "Kind", "Order", "Why refused"):
                    refused.add_column(Text(label), key=label.lower())
                yield refused

    def on_mount(self) -> None:
        """The orders table has the keys: Enter opens an order."""
        self.query_one("#orders", DataTable).focus()

    def fetch(self, client: BacklogClient) -> FacilityDetail:
        """``GET /v1/backlog/{facility}``."""
        return client.facility(self.facility)

    def show(self, data: FacilityDetail) -> None:
        """Fill the figures, charts and the three tables."""
        f, now = data.backlog, data.as_of
        line = Text()
        line.append(plural(f.waiting_orders, "order"), style="bold")
        line.append(f" waiting · {units(f.units_to_put_back)} · ")
        line.append(f"{f.overdue} overdue", style=fig.OVERDUE if f.overdue else fig.MUTED)
        line.append(" · ")
        line.append(f"{f.due_soon} due soon", style=fig.DUE_SOON if f.due_soon else fig.MUTED)
        line.append(" · oldest ")
        line.append(fig.age(f.oldest_since, now))
        line.append("\nmedian 1st action ")
        line.append(fig.minutes(f.first_response_median_minutes))
        line.append(" · median cycle ")
        line.append(fig.minutes(f.cycle_median_minutes))
        line.append(" · refused ")
        line.append(fig.count(f.refused_waiting, "bold red"))
        line.append(" · reserved ")
        line.append(fig.count(f.units_reserved_on_exceptions, "bold red"))
        self.query_one("#figures", Static).update(line)
        incoming = [h.incoming for h in f.flow]
        cleared = [h.cleared for h in f.flow]
        self.query_one("#incoming-label", Static).update(_series("In", incoming))
        self.query_one("#cleared-label", Static).update(_series("Cleared", cleared))
        self.query_one("#incoming", Sparkline).data = incoming
        self.query_one("#cleared", Sparkline).data = cleared

        orders: DataTable[object] = self.query_one("#orders", DataTable)
        keep = cursor_key(orders)
        orders.clear()
        for o in data.orders:
            orders.add_row(
                fig.text(o.order_id, "bold"),
                fig.age(o.since, now),
                fig.sla(o.sla, o.sla_text),
                fig.text(o.units_to_put_back),
                fig.claim(o.claim),
                fig.text("; ".join(o.why)),
                key=o.order_id,
            )
        if keep is not None and keep in orders.rows:
            orders.move_cursor(row=orders.get_row_index(keep))

        terminals: DataTable[object] = self.query_one("#terminals", DataTable)
        terminals.clear()
        for t in f.terminals:
            terminals.add_row(
                fig.text(t.terminal, "bold"),
                fig.text(clock_time(t.last_contact) if t.last_contact else "never"),
                fig.age(t.last_contact, now),
                fig.unsent(t.waiting_to_send),
                fig.text(t.last_seq),
                key=t.terminal,
            )
        reasons: DataTable[object] = self.query_one("#reasons", DataTable)
        reasons.clear()
        for r in f.top_reasons:
            reasons.add_row(
                fig.text(r.reason, "bold"),
                fig.text(r.kind.replace("_", " ")),
                fig.text(r.entries),
                fig.text(r.units),
                key=f"{r.kind}:{r.reason}",
            )
        refused: DataTable[object] = self.query_one("#refused", DataTable)
        refused.clear()
        for e in data.refused:
            refused.add_row(
                fig.age(e.received_at, now),
                fig.text(e.terminal),
                fig.text(e.kind.replace("_", " ")),
                fig.optional(e.order_id),
                fig.optional(e.reason),
                key=e.entry_id,
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on an order opens its entries in order."""
        from putback_tui.dashboard.screens.order import OrderScreen

        if event.data_table.id == "orders" and event.row_key.value is not None:
            self.app.push_screen(OrderScreen(event.row_key.value))



def _series(label: str, hourly: list[int]) -> Text:
    """A chart's caption: its total and its peak hour."""
    return Text(f"{label}, 24 h: {sum(hourly)} (peak {max(hourly, default=0)}/h)")
