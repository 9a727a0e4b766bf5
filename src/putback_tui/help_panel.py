"""The F1 panel both apps show: titled sections of key/meaning rows or sentences, scrolling.

The packing station's help (:mod:`putback_tui.tui.dialogs.help`) and the dashboard's
(:mod:`putback_tui.dashboard.screens.help`) give only their sections; the panel, its table and
its keys are this one class. Text only, never markup (``Static(markup=False)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Rows = Sequence[tuple[str, str]]
"""A section's rows: a key (or name) in bold, and what it does (or means)."""


def pairs(rows: Rows) -> Table:
    """``rows`` as two columns, the second wrapping to the panel's width."""
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    for key, what in rows:
        table.add_row(key, what)
    return table


class HelpPanel(ModalScreen[None]):
    """One scrolling panel of titled sections; Esc (or F1 again) closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]
    """Esc (or F1 again) closes the panel."""

    def sections(self) -> list[tuple[str, Rows | str]]:
        """The panel's sections in order: a title, then rows or a sentence."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        """One scrolling panel."""
        parts: list[RenderableType] = []
        for title, body in self.sections():
            if parts:
                parts.append(Text(""))
            parts.append(Text(title, style="bold underline"))
            parts.append(Text(body) if isinstance(body, str) else pairs(body))
        with VerticalScroll(id="help-panel"):
            yield Static(Group(*parts), markup=False)

    async def action_dismiss(self, result: None = None) -> None:
        """Close the panel."""
        self.dismiss(result)
