"""A heading of one or two lines that asks for a new layout only when its height changes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Headline(Static):
    """A ``height: auto`` line of text (an order's headline, the product in hand).

    ``Static.update`` lays the whole screen out again after every change, in case the height
    changed: a few milliseconds on every scan. :meth:`show` wraps the text itself and asks for a
    layout only when the number of lines differs from the height the widget has now.
    """

    def __init__(self, *, id: str | None = None) -> None:
        """An empty headline (text is data: never read as markup)."""
        super().__init__("", id=id, markup=False)

    def show(self, text: Text) -> None:
        """Show ``text``, laying the screen out again only if it needs more or fewer lines."""
        width = self.content_size.width
        if not self.is_mounted or width <= 0:
            self.update(text)
            return
        lines = len(text.wrap(self.app.console, width))
        self.update(text, layout=lines != self.size.height)
