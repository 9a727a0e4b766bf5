"""Resolve one entry the central store refused: acknowledge it, or count the units found."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from putback_tui.barcodes import Scan
from putback_tui.domain.wording import units as _units
from putback_tui.station import RefusedItem
from putback_tui.tui.dialogs.base import ScanDialog

CHOICE = re.compile(r"[0-9]")


@dataclass(frozen=True)
class ResolveChoice:
    """What the supervisor decided: ``found_in`` None acknowledges; a code counts units there."""

    found_in: str | None


def units_added(item: RefusedItem) -> int:
    """Units the refused entry put into a location (those a supervisor may have found)."""
    return sum(c.qoh for c in item.refused.entry.changes if c.location is not None and c.qoh > 0)


def describe_entry(item: RefusedItem) -> str:
    """The refused entry in a few words: kind, order, product, quantity, where."""
    entry = item.refused.entry
    d = entry.details
    parts = [entry.kind.value.replace("_", " ")]
    if entry.order_id:
        parts.append(f"order {entry.order_id}")
    if d.sku:
        parts.append(f"{d.quantity or ''} x {d.sku}".strip())
    if d.location:
        parts.append(f"to {d.location}")
    return ", ".join(parts)


class ResolveDialog(ScanDialog[ResolveChoice | None]):
    """Two choices, numbered: 1 acknowledge; 2 units found (only when the entry added units)."""

    def __init__(self, item: RefusedItem, exception_location: str | None) -> None:
        """Ask about one refused entry.

        Args:
            item: The refused entry and its (missing) resolution.
            exception_location: Where found units are counted (the facility's first exception
                location); None: the "units found" choice is not offered.
        """
        super().__init__(f"Resolve refused entry #{item.refused.entry.seq}")
        self.item = item
        self.found = units_added(item)
        self.choices: list[ResolveChoice] = [ResolveChoice(None)]
        options = [
            Option(
                Text.assemble(
                    ("1  Acknowledge", "bold"),
                    ": nothing to count; the central store's figures stand. No stock changes.",
                )
            )
        ]
        if self.found and exception_location:
            self.choices.append(ResolveChoice(exception_location))
            options.append(
                Option(
                    Text.assemble(
                        ("2  Units found", "bold"),
                        f": bring the {_units(self.found)} to "
                        f"{exception_location} and count them there (QOH + {self.found}, "
                        "not for sale until moved out).",
                    )
                )
            )
        self._options = OptionList(*options, id="choices")

    def compose_extra(self) -> ComposeResult:
        """The choices."""
        yield self._options

    def on_mount(self) -> None:
        """Show what was refused and why."""
        super().on_mount()
        refused = self.item.refused
        entry = refused.entry
        self.set_body(
            Text.assemble(
                (describe_entry(self.item), "bold"),
                f"\nby {entry.operator} at {entry.terminal}, "
                f"{entry.created_at.astimezone().strftime('%Y-%m-%d %H:%M')}\n",
                ("Refused: ", "bold"),
                refused.reason,
                "\n\nIts stock changes drop out here once the central store's figures arrive "
                "(they are the truth). The entry stays in the ledger; the resolution is a new "
                "entry.\n"
                "Type the number and Enter, or ↑ ↓ and Enter. Esc: decide later.",
            )
        )
        self._options.highlighted = 0
        self.set_focus(self._options)

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A typed number chooses."""
        typed = text.strip()
        if CHOICE.fullmatch(typed) and 1 <= int(typed) <= len(self.choices):
            self.dismiss(self.choices[int(typed) - 1])
            return
        self.putback.refuse(f"Type 1 to {len(self.choices)} and Enter, or Esc.", "wrong_step")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """The operator's own Enter on a highlighted choice."""
        event.stop()
        self.dismiss(self.choices[event.option_index])
