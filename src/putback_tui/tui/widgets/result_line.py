"""The result line: big, high contrast, readable at arm's length."""

from __future__ import annotations

from rich.text import Text
from textual.color import Color
from textual.reactive import reactive
from textual.widgets import Static

from putback_tui.tui.state import Result, Tone

TONES = {
    Tone.DONE: (Color.parse("#006b2e"), Color.parse("#ffffff")),
    Tone.REFUSED: (Color.parse("#b00020"), Color.parse("#ffffff")),
    Tone.NOTICE: (Color.parse("#8a5a00"), Color.parse("#ffffff")),
}
"""Background and text of each coloured tone. Fixed colours rather than theme variables: white
on dark green / red / amber keeps a contrast ratio above 7:1 whatever theme the terminal has.
Set as the widget's own styles, not CSS classes: a class change re-matches the stylesheet,
1-2 ms on every scan that changes the tone."""

_MARKS = {Tone.DONE: "✔ ", Tone.REFUSED: "✘ ", Tone.NOTICE: "● ", Tone.INFO: ""}
"""A shape beside the colour, for operators who cannot tell red from green."""


class ResultLine(Static):
    """The outcome of the last scan: green done, red refused (with the reason), amber notice."""

    DEFAULT_CSS = """
    ResultLine {
        height: 3;
        width: 1fr;
        content-align: left middle;
        padding: 0 2;
        text-style: bold;
        background: $panel;
        color: $text;
    }
    """
    """The neutral bar; the tones' colours are set on the widget itself (``TONES``)."""

    result: reactive[Result | None] = reactive(None, layout=False)
    """The result shown; None shows an empty bar."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._colours: tuple[Color, Color] | None = None

    def watch_result(self, result: Result | None) -> None:
        """Recolour and rewrite the bar."""
        colours = None if result is None else TONES.get(result.tone)
        if colours != self._colours:
            self._colours = colours
            if colours is None:  # back to the stylesheet's neutral bar
                self.styles.clear_rule("background")
                self.styles.clear_rule("color")
            else:
                self.styles.background, self.styles.color = colours
        if result is None:
            self.update("", layout=False)
            return
        # Text, never a markup string: the sentence may quote scanned text.
        self.update(Text(_MARKS[result.tone] + result.text), layout=False)
