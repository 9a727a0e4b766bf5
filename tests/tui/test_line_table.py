"""The table of lines: what fits, what is cut short, what the cursor and the keys do."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from putback_tui.tui.widgets import Column, LineTable, Row

COLUMNS = (
    Column("Product"),
    Column("Description", shrink=True),
    Column("Left", "right"),
)


class TableApp(App[None]):
    CSS = "LineTable { height: 1fr; }"

    def __init__(self, rows: list[Row]) -> None:
        super().__init__()
        self.rows = rows
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield LineTable(COLUMNS, id="lines")

    def on_mount(self) -> None:
        table = self.query_one(LineTable)
        table.set_rows(self.rows)
        table.focus()

    def on_line_table_selected(self, event: LineTable.Selected) -> None:
        self.chosen.append(event.key)


def text_of(app: App[None]) -> list[str]:
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


def rows(n: int, description: str = "Mug, white, 300 ml") -> list[Row]:
    return [Row(str(i), (f"SKU-{i}", description, str(i))) for i in range(1, n + 1)]


async def test_a_long_description_is_cut_short_so_every_column_fits():
    app = TableApp(rows(2, "A very long description " * 5))
    async with app.run_test(size=(40, 6)):
        lines = text_of(app)
        assert lines[0].split() == ["Product", "Description", "Left"]
        assert lines[1].startswith(" SKU-1")
        assert "…" in lines[1]
        assert lines[1].endswith(" 1")  # the quantity, right-aligned, is still there
        assert all(len(line) <= 40 for line in lines)


async def test_scanned_text_in_a_cell_is_shown_literally():
    app = TableApp([Row("1", ("[bold]x[/]", "\x1b[2Jwipe", Text("3", style="bold")))])
    async with app.run_test(size=(60, 5)):
        line = text_of(app)[1]
        assert "[bold]x[/]" in line
        assert "\\x1b[2Jwipe" in line  # escaped, never sent to the terminal


async def test_arrows_move_the_cursor_and_enter_chooses_its_row():
    app = TableApp(rows(3))
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(LineTable)
        await pilot.press("down", "down", "down")  # stops at the last row
        assert table.cursor_row == 2
        await pilot.press("enter")
        await pilot.press("home", "enter")
        assert app.chosen == ["3", "1"]


async def test_rows_that_do_not_fit_scroll_with_the_cursor_and_the_header_says_which():
    app = TableApp(rows(20))
    async with app.run_test(size=(60, 6)) as pilot:  # a header and five rows
        assert "rows 1-5 of 20" in text_of(app)[0]
        await pilot.press("end")
        await pilot.pause()
        lines = text_of(app)
        assert "rows 16-20 of 20" in lines[0]
        assert lines[-1].startswith(" SKU-20")
        assert app.query_one(LineTable).cursor_key == "20"


async def test_new_rows_keep_the_cursor_on_its_row_number_unless_told():
    app = TableApp(rows(5))
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(LineTable)
        await pilot.press("down", "down")
        table.set_rows(rows(4))
        assert table.cursor_row == 2
        table.set_rows(rows(1))
        assert table.cursor_row == 0
        table.set_rows(rows(4), cursor=3)
        assert table.cursor_key == "4"
