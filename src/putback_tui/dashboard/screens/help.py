"""F1 help: the keys, and what every figure of the dashboard means and where it comes from."""

from __future__ import annotations

from putback_tui.help_panel import HelpPanel, Rows

KEYS = (
    ("Enter", "Open the facility (network view) or the order (facility view) under the cursor"),
    ("Esc", "Back one screen"),
    ("↑ ↓ ← →", "Move in a table (→ shows the columns that do not fit)"),
    ("Tab", "Next table or tab; click a tab to open it"),
    ("F5", "Refresh now (it also refreshes by itself, every few seconds)"),
    ("F1", "This help (Esc or F1 closes it)"),
    ("Ctrl+Q", "Quit"),
)

FIGURES = (
    ("Status line", "Green: the central store answered the last call, at the time shown. Red: "
     "it did not (since when, and why); the figures stay on screen dimmed and marked STALE, "
     "with the time they are from, and the dashboard keeps asking: they come back by "
     "themselves."),
    ("Orders", "Waiting orders: exception orders (cancelled, deleted, failed, rejected) that "
     "still hold picked units not put back."),
    ("Overdue", "Waiting orders past a running SLA clock (time to first action, or time to "
     "cleared: the central store's [sla] settings, the same rules as the terminals' "
     "worklist). Red when any."),
    ("Soon", "Due soon: waiting orders not overdue that have used most of a clock's time. Yellow "
     "when any. A facility's name takes the colour of its worst order (green: all on time)."),
    ("Units", "Picked units of the waiting orders not yet put back."),
    ("Oldest", "How long ago the oldest waiting order became an exception."),
    ("24 h", "Two sparklines, one bar per hour, the current hour at the right: in (top, "
     "amber) is orders with picked units that became exceptions that hour; cleared (bottom, "
     "green) is orders whose last unit was reconciled that hour. Each line is scaled to its "
     "own peak: the facility view gives the totals and peaks."),
    ("1st action", "Median minutes from becoming an exception to the first operator entry on "
     "the order (automatic releases are nobody's action), over the orders cleared in the "
     "last 24 hours."),
    ("Cycle", "Median minutes from becoming an exception to cleared, over the same orders."),
    ("Refused", "Entries the central store refused that no supervisor has resolved yet "
     "(a terminal's supervisor menu resolves them). Should be 0."),
    ("Reserved", "Unpicked units of exception orders still reserved. Should be 0: releases "
     "happen the moment an exception is known."),
    ("Terminals", "Terminals enrolled at the facility. Facility view: when the central store "
     "last heard from each (a send or a pull), and the entries it said were waiting to be "
     "sent then (many, or an old last contact: a terminal offline)."),
    ("Age, SLA", "Facility view, per order: how long since it became an exception, and its "
     "SLA state in words (\"overdue 12 min\", \"due in 8 min\", \"on time\"). Orders are "
     "ranked as the terminals' worklist ranks them, most urgent first."),
    ("Claim", "Which terminal and operator are clearing the order now, and since when "
     "(a dash: nobody)."),
    ("Why", "The terms of the order's rank, largest first, with their points."),
    ("Top reasons", "The reasons recorded most often at the facility in the last 7 days "
     "(rejects, cancels, line edits): entries and units."),
    ("Order view", "Every entry on the order in the order the central store recorded it: "
     "when, what, which line and product, how many, where (location), who (operator) and "
     "on which terminal, and whether it was applied or refused (with why)."),
)
"""Every figure on the dashboard, in words."""


class HelpDialog(HelpPanel):
    """The keys and every figure, in one scrolling panel."""

    def sections(self) -> list[tuple[str, Rows | str]]:
        """Keys, then figures."""
        return [("Keys", KEYS), ("Figures", FIGURES)]
