"""The network view: one row per facility with its backlog figures; Enter opens a facility."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from putback_tui.dashboard import figures as fig
from putback_tui.dashboard.client import Backlog, BacklogClient
from putback_tui.dashboard.screens.base import DashboardScreen, cursor_key
from putback_tui.dashboard.table import Table
from putback_tui.domain.wording import plural, units

INCOMING = "#e0a030"
"""Colour of the incoming series (new exception orders per hour)."""
CLEARED = "#40b060"
"""Colour of the cleared series (exception orders cleared per hour)."""

HOURLY = Text.assemble("24 h: in ", ("▆", INCOMING), " / cleared ", ("▆", CLEARED))
"""The hourly column's header: the two series, each with its colour (top: in, bottom: cleared)."""

COLUMNS: tuple[tuple[str | Text, str, int | None], ...] = (
    ("Facility", "facility", None),
    ("Orders", "waiting", 6),
    ("Overdue", "overdue", 7),
    ("Soon", "due_soon", 5),
    ("Units", "units", 5),
    ("Oldest", "oldest", 8),
    (HOURLY, "hourly", 24),
    ("1st action", "first_response", 10),
    ("Cycle", "cycle", 9),
    ("Refused", "refused", 7),
    ("Reserved", "reserved", 8),
    ("Terminals", "terminals", 9),
)
"""The table's columns (label, key, width): what fits 80 columns first, the rest to the right.
Fixed widths, so the columns never move as the figures change from one refresh to the next
(and the first seven fit 80 columns; an age of 10 days and more is cut to its days and hours
there)."""


class NetworkScreen(DashboardScreen[Backlog]):
    """Every facility the viewer may see, most overdue first."""

    def body(self) -> ComposeResult:
        """The network's totals, then the table of facilities."""
        yield Static(Text("Fetching the backlog …"), id="totals", classes="figures", markup=False)
        table: DataTable[object] = Table(id="facilities", cursor_type="row", zebra_stripes=True)
        for label, key, width in COLUMNS:
            table.add_column(Text(label) if isinstance(label, str) else label, key=key, width=width)
        yield table

    def fetch(self, client: BacklogClient) -> Backlog:
        """``GET /v1/backlog``."""
        return client.network()

    def show(self, data: Backlog) -> None:
        """Fill the table again, keeping the cursor on the same facility."""
        now = data.as_of
        table: DataTable[object] = self.query_one("#facilities", DataTable)
        keep = cursor_key(table)
        table.clear()
        rows = sorted(data.facilities, key=lambda f: (-f.overdue, -f.due_soon, f.facility))
        for f in rows:
            table.add_row(
                fig.text(f.facility, fig.worst_style(f.overdue, f.due_soon)),
                fig.count(f.waiting_orders, "bold"),
                fig.count(f.overdue, fig.OVERDUE),
                fig.count(f.due_soon, fig.DUE_SOON),
                fig.count(f.units_to_put_back),
                fig.age(f.oldest_since, now),
                fig.Stacked(
                    fig.spark([h.incoming for h in f.flow], INCOMING),
                    fig.spark([h.cleared for h in f.flow], CLEARED),
                ),
                fig.minutes(f.first_response_median_minutes),
                fig.minutes(f.cycle_median_minutes),
                fig.count(f.refused_waiting, "bold red"),
                fig.count(f.units_reserved_on_exceptions, "bold red"),
                fig.text(len(f.terminals)),
                height=2,
                key=f.facility,
            )
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self.query_one("#totals", Static).update(_totals(data))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a facility opens its orders, terminals and reasons."""
        from putback_tui.dashboard.screens.facility import FacilityScreen

        if event.row_key.value is not None:
            self.app.push_screen(FacilityScreen(event.row_key.value))


def _totals(data: Backlog) -> Text:
    """One line over the whole network: facilities, orders, overdue, units, the oldest."""
    facilities = data.facilities
    waiting = sum(f.waiting_orders for f in facilities)
    overdue = sum(f.overdue for f in facilities)
    due_soon = sum(f.due_soon for f in facilities)
    line = Text(f"{plural(len(facilities), 'facility', 'facilities')} · ")
    line.append(plural(waiting, "order"), style="bold")
    line.append(" waiting · ")
    line.append(f"{overdue} overdue", style=fig.OVERDUE if overdue else fig.MUTED)
    line.append(" · ")
    line.append(f"{due_soon} due soon", style=fig.DUE_SOON if due_soon else fig.MUTED)
    line.append(f" · {units(sum(f.units_to_put_back for f in facilities))} to put back")
    oldest = [f.oldest_since for f in facilities if f.oldest_since is not None]
    if oldest:
        line.append(" · oldest ")
        line.append(fig.age(min(oldest), data.as_of))
    return line
