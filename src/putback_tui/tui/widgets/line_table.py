"""A table of order lines (or any short rows) that draws each row straight as one strip.

Textual's ``DataTable`` renders every cell through Rich on each refill: 0.5-1 ms per visible row,
most of the time a scan takes to show an order. Here a row is a handful of padded strings, made
into a :class:`~textual.strip.Strip` once per fill and kept; the cursor, the zebra stripes and
the header come from component classes, so the stylesheet and the theme still decide the
colours. What it does: a header, a row cursor (arrows, Page Up/Down, Home/End, mouse), Enter or
a click to choose a row, and a "rows 1-12 of 40" note in the header when not every row fits.
Cell text is data: it is never read as markup, and characters that do not print are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from putback_tui.barcodes import shown

SHRINK_TO = 8
"""The narrowest a shrinking column gets (its header is cut short too)."""

Cell = str | Text
"""A cell: plain text, or a ``Text`` whose (whole-cell) style is used; spans are not."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header, how it lines up, and whether it gives way when space is short."""

    label: str
    justify: Literal["left", "right"] = "left"
    shrink: bool = False
    """True for a column (a description) cut short with "…" when the rows do not fit; the
    widest such column gives way first."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row: a key the screen knows it by, and its cells in column order."""

    key: str
    cells: tuple[Cell, ...]


class LineTable(Widget, can_focus=True):
    """Rows under a header, one of them under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor(-1_000_000)", "First", show=False),
        Binding("end", "cursor(1_000_000)", "Last", show=False),
        Binding("enter", "select", "Choose", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-table--header",
        "line-table--cursor",
        "line-table--even-row",
    }

    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        & > .line-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .line-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .line-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, layout=False, always_update=False)
    """The row under the cursor (0 when there are none)."""

    class Selected(Message):
        """A row was chosen (Enter on it, or a click)."""

        def __init__(self, table: LineTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable:
            """The table the row is in."""
            return self.table

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        """Make an empty table.

        Args:
            columns: The columns, left to right.
            id: The widget's id.
        """
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.rows: tuple[Row, ...] = ()
        self._texts: list[tuple[str, ...]] = []
        self._cell_styles: list[tuple[Style | None, ...]] = []
        self._top = 0
        """The first row shown (rows above it are scrolled away)."""
        self._strips: dict[tuple[int, bool], Strip] = {}
        self._base_styles: tuple[Style, Style, Style, Style] | None = None
        """Plain, header, even row, cursor: read from the stylesheet once per theme or focus."""
        self._widths: tuple[int, ...] | None = None
        self._widths_for = -1

    # -- content -------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many rows the table has."""
        return len(self.rows)

    def set_rows(self, rows: Sequence[Row], *, cursor: int | None = None) -> None:
        """Replace every row; the cursor stays on its row number unless ``cursor`` is given.

        Args:
            rows: The new rows, top to bottom.
            cursor: The row to put the cursor on (clamped to the rows there are).
        """
        self.rows = tuple(rows)
        self._texts = [tuple(_text(c) for c in row.cells) for row in self.rows]
        self._cell_styles = [tuple(_style(c) for c in row.cells) for row in self.rows]
        self._widths = None
        self._strips.clear()
        target = self.cursor_row if cursor is None else cursor
        self.set_reactive(LineTable.cursor_row, self._clamp(target))
        self._keep_cursor_visible()
        self.refresh()

    def move_cursor(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped), scrolling it into view."""
        self.cursor_row = self._clamp(row)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor; None when there are no rows."""
        return self.rows[self.cursor_row].key if self.rows else None

    def _clamp(self, row: int) -> int:
        return min(max(row, 0), max(len(self.rows) - 1, 0))

    def watch_cursor_row(self, old: int, new: int) -> None:
        """Redraw the two rows that changed (or all of them, when the view scrolls)."""
        if self._keep_cursor_visible():
            self.refresh()
            return
        for row in (old, new):
            self.refresh(Region(0, row - self._top + 1, self.size.width, 1))

    def _visible_rows(self) -> int:
        return max(self.size.height - 1, 1)

    def _keep_cursor_visible(self) -> bool:
        """Scroll so the cursor's row shows; True when the view scrolled."""
        top = self._top
        visible = self._visible_rows()
        row = self.cursor_row
        if row < self._top:
            self._top = row
        elif row >= self._top + visible:
            self._top = row - visible + 1
        self._top = max(0, min(self._top, max(len(self.rows) - visible, 0)))
        if self._top == top:
            return False
        self._strips.pop((-1, False), None)  # the header's "rows x-y of n" note
        return True

    # -- keys and mouse ------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        """Move the cursor ``step`` rows (clamped)."""
        self.move_cursor(self.cursor_row + step)

    def action_page(self, pages: int) -> None:
        """Move the cursor a screenful."""
        self.move_cursor(self.cursor_row + pages * self._visible_rows())

    def action_select(self) -> None:
        """Choose the row under the cursor."""
        if self.rows:
            self.post_message(LineTable.Selected(self, self.rows[self.cursor_row].key))

    def on_click(self, event: events.Click) -> None:
        """A click on a row puts the cursor there and chooses it."""
        row = self._top + event.y - 1
        if event.y >= 1 and 0 <= row < len(self.rows):
            self.move_cursor(row)
            self.action_select()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """The wheel moves the cursor."""
        event.stop()
        self.action_cursor(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """The wheel moves the cursor."""
        event.stop()
        self.action_cursor(-1)

    def on_resize(self, event: events.Resize) -> None:
        """A new size: new column widths and strips."""
        self._strips.clear()
        self._keep_cursor_visible()

    def notify_style_update(self) -> None:
        """A new theme or focus: the colours are baked into the strips."""
        super().notify_style_update()
        self._restyle()

    def on_focus(self, event: events.Focus) -> None:
        """The cursor takes its focused colours."""
        self._restyle()

    def on_blur(self, event: events.Blur) -> None:
        """The cursor takes its blurred colours."""
        self._restyle()

    def _restyle(self) -> None:
        self._base_styles = None
        self._strips.clear()
        self.refresh()

    def _styles(self) -> tuple[Style, Style, Style, Style]:
        if self._base_styles is None:
            plain = self.rich_style
            self._base_styles = (
                plain,
                plain + self.get_component_rich_style("line-table--header"),
                plain + self.get_component_rich_style("line-table--even-row"),
                plain + self.get_component_rich_style("line-table--cursor"),
            )
        return self._base_styles

    # -- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """The header (y 0), a row, or blank below the last row."""
        width = self.size.width
        if y == 0:
            return self._header(width)
        row = self._top + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, self._styles()[0])
        cursor = row == self.cursor_row
        strip = self._strips.get((row, cursor))
        if strip is None:
            strip = self._row_strip(row, cursor, width)
            self._strips[(row, cursor)] = strip
        return strip

    def _column_widths(self, width: int) -> tuple[int, ...]:
        if self._widths is not None and self._widths_for == width:
            return self._widths
        widths = [cell_len(c.label) for c in self.columns]
        for texts in self._texts:
            for i, text in enumerate(texts):
                widths[i] = max(widths[i], cell_len(text))
        over = sum(w + 2 for w in widths) - width
        shrinkable = [i for i, column in enumerate(self.columns) if column.shrink]
        while over > 0 and shrinkable:
            # A cell at a time from the widest column that may give way, down to 8 cells.
            widest = max(shrinkable, key=lambda i: widths[i])
            if widths[widest] <= SHRINK_TO:
                break
            widths[widest] -= 1
            over -= 1
        self._widths = tuple(widths)
        self._widths_for = width
        return self._widths

    def _cells(self, texts: Sequence[str], styles: Sequence[Style | None], base: Style,
               width: int) -> Strip:
        widths = self._column_widths(width)
        segments: list[Segment] = []
        for column, text, cell_width, style in zip(self.columns, texts, widths, styles,
                                                   strict=False):
            if cell_len(text) > cell_width:
                text = set_cell_size(text, cell_width - 1) + "…"
            pad = " " * (cell_width - cell_len(text))
            body = pad + text if column.justify == "right" else text + pad
            segments.append(Segment(f" {body} ", base + style if style else base))
        return Strip(segments).adjust_cell_length(width, base)

    def _header(self, width: int) -> Strip:
        strip = self._strips.get((-1, False))
        if strip is not None:
            return strip
        base = self._styles()[1]
        strip = self._cells([c.label for c in self.columns], [None] * len(self.columns), base,
                            width)
        visible = self._visible_rows()
        if len(self.rows) > visible:
            last = min(self._top + visible, len(self.rows))
            note = f" rows {self._top + 1}-{last} of {len(self.rows)} "
            if cell_len(note) < width:
                strip = Strip.join([strip.crop(0, width - cell_len(note)),
                                    Strip([Segment(note, base)])])
        self._strips[(-1, False)] = strip
        return strip

    def _row_strip(self, row: int, cursor: bool, width: int) -> Strip:
        plain, _, even, cursor_style = self._styles()
        base = cursor_style if cursor else even if row % 2 == 0 else plain
        styles = self._cell_styles[row]
        if cursor:  # the cursor's colours win; a cell's own style keeps only its weight
            styles = tuple(Style(bold=s.bold) if s else None for s in styles)
        return self._cells(self._texts[row], styles, base, width)


def _text(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else cell
    return text if text.isprintable() else shown(text, limit=200)


def _style(cell: Cell) -> Style | None:
    if isinstance(cell, Text) and cell.style:
        return cell.style if isinstance(cell.style, Style) else Style.parse(cell.style)
    return None
