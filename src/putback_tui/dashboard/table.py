"""The dashboard's tables: Textual's ``DataTable``, drawn again once its columns are sized.

``DataTable`` (Textual 8.2.8) sizes its columns to their cells when it is next idle after rows
are added, but keeps the lines it drew before then: a refresh that painted between filling a
table and that moment left every column cut to its heading's width ("11-2", "TSH") until the
next change, the cursor's or the next refresh's. Found as a snapshot that failed now and then.
"""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable


class Table(DataTable[object]):
    """A ``DataTable`` that forgets the lines it drew once its columns are sized again."""

    async def _on_idle(self, event: events.Idle) -> None:
        resized = self._require_update_dimensions or bool(self._updated_cells)
        await super()._on_idle(event)
        if resized:
            self._clear_caches()
