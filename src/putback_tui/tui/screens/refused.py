"""Refused sync entries: what the central store refused, why, and how each was resolved."""

from __future__ import annotations

import re
from functools import partial

from rich.text import Text
from textual.app import ComposeResult

from putback_tui.barcodes import Scan
from putback_tui.station import RefusedItem
from putback_tui.tui.dialogs.resolve import ResolveChoice, ResolveDialog, describe_entry
from putback_tui.tui.messages import RefusedEntryResolved
from putback_tui.tui.screens.base import ScanScreen
from putback_tui.tui.widgets import Column, Headline, LineTable, Row

NUMBER = re.compile(r"[0-9]{1,9}")
COLUMNS = (
    Column("#", "right"),
    Column("Resolution"),
    Column("Entry", shrink=True),
    Column("Refused because", shrink=True),
)
"""A typed entry number (the # column)."""


def resolution_text(item: RefusedItem) -> Text:
    """The status cell: open in bold red, or who resolved it and how."""
    res = item.resolution
    if res is None:
        return Text("open", style="bold red")
    how = "units found" if res.changes else "acknowledged"
    return Text(f"{how} by {res.operator}", style="green")


class RefusedEntriesScreen(ScanScreen):
    """One row per refused entry, oldest first; Enter (or its number) resolves it."""

    TITLE_TEXT = "refused sync entries"

    def __init__(self) -> None:
        super().__init__()
        self.items: list[RefusedItem] = []
        self._head = Headline(id="order-head")
        self._table = LineTable(COLUMNS, id="lines")

    def compose_body(self) -> ComposeResult:
        """Summary and table."""
        yield self._head
        yield self._table

    def on_mount(self) -> None:
        """Build the table."""
        super().on_mount()
        self.set_prompt("Choose an open entry (↑ ↓ and Enter, or type its # and Enter); Esc back")
        self._fill()
        self._table.focus()

    def set_items(self, items: list[RefusedItem]) -> None:
        """Show these refused entries (before the screen is pushed, or after a resolve)."""
        self.items = items
        if self.is_mounted:
            # After the screen is back in front: a table filled while a dialog still covers it
            # keeps the column widths it had (station calls return without yielding).
            self.call_after_refresh(self._fill)

    def _fill(self) -> None:
        open_ones = sum(1 for i in self.items if i.resolution is None)
        self._head.show(
            Text.assemble(
                (f"{len(self.items)} refused", "bold"),
                f" by the central store, {open_ones} open. Nothing is ever deleted: a resolution "
                "is a new ledger entry.",
            )
            if self.items
            else Text("Nothing was refused by the central store.")
        )
        self._table.set_rows([
            Row(item.refused.entry.entry_id, (
                str(item.refused.entry.seq),
                resolution_text(item),
                describe_entry(item),
                item.refused.reason,
            ))
            for item in self.items
        ])

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A typed # chooses that entry."""
        typed = text.strip()
        if NUMBER.fullmatch(typed):
            item = next((i for i in self.items if i.refused.entry.seq == int(typed)), None)
            if item is None:
                self.putback.refuse(f"No refused entry #{typed} here.", "wrong_step")
                return
            await self.resolve(item)
        else:
            self.refuse_scan(scan, "Type an entry's # and Enter.")

    async def on_line_table_selected(self, event: LineTable.Selected) -> None:
        """The operator's own Enter on a row."""
        event.stop()
        key = event.key
        item = next((i for i in self.items if i.refused.entry.entry_id == key), None)
        if item is not None:
            await self.resolve(item)

    async def resolve(self, item: RefusedItem) -> None:
        """Ask how to resolve ``item``, then record the resolution."""
        app = self.putback
        entry = item.refused.entry
        if item.resolution is not None:
            app.notice(
                f"Entry #{entry.seq} was resolved by {item.resolution.operator} already. "
                "Nothing to do."
            )
            return
        areas = await app.attempt(app.station.exception_locations, group="lookup", write=False)

        async def answered(choice: ResolveChoice | None) -> None:
            if choice is None:
                app.info(f"Entry #{entry.seq} left open.")
                return
            call = partial(app.station.resolve_refused, entry.entry_id, found_in=choice.found_in)
            resolved = await app.attempt(call, group="resolve")
            if resolved is None:
                return
            app.post_message(RefusedEntryResolved(resolved))
            items = await app.attempt(app.station.refused_entries, group="lookup")
            if items is not None:
                self.set_items(items)
            if choice.found_in is None:
                app.done(f"Entry #{entry.seq} acknowledged: no stock changed.")
            else:
                app.done(
                    f"Entry #{entry.seq}: {resolved.details.quantity} counted into "
                    f"{choice.found_in}, not for sale until moved out."
                )

        await app.push_screen(ResolveDialog(item, areas[0] if areas else None), callback=answered)
