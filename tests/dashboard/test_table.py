"""The dashboard's tables show whole cells after a refill, whenever the screen was painted."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from putback_tui.dashboard.table import Table


@pytest.mark.parametrize("kind", [Table])
async def test_a_row_drawn_before_its_columns_were_sized_is_drawn_again(
    kind: type[DataTable[object]],
) -> None:
    """A paint lands between filling the table and the table's next idle moment (when it
    sizes its columns to their cells): afterwards the row reads whole, not cut to the
    heading's width ("TSH" under "SKU"), as the order view's snapshot once showed.
    """

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield kind(id="t")

    app = One()
    async with app.run_test(size=(60, 6)) as pilot:
        table = app.query_one("#t", DataTable)
        table.add_column("SKU", key="sku")
        table.add_column("Qty", key="qty")
        await pilot.pause()
        table.add_row("TSHIRT-BLK-M", "1")
        assert table.render_line(1).text.split()[:1] == ["TSH"]  # drawn before it was sized
        await pilot.pause()
        assert table.render_line(1).text.split()[:2] == ["TSHIRT-BLK-M", "1"]
