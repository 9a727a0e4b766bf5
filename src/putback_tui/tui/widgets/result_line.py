"""The result line: big, high contrast, readable at arm's length."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from putback_tui.tui.state import Result, Tone

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
    ResultLine.-done { background: #006b2e; color: #ffffff; }
    ResultLine.-refused { background: #b00020; color: #ffffff; }
    ResultLine.-notice { background: #8a5a00; color: #ffffff; }
    """
    """Fixed colours rather than theme variables: white on dark green / red / amber keeps a
    contrast ratio above 7:1 whatever theme the terminal has."""

    result: reactive[Result | None] = reactive(None, layout=False)
    """The result shown; None shows an empty bar."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def watch_result(self, result: Result | None) -> None:
        """Recolour and rewrite the bar."""
        wanted = frozenset() if result is None else frozenset({f"-{result.tone.value}"})
        if self.classes != wanted:
            self.set_classes(wanted)  # one restyle (1-2 ms), and only when the tone changes
        if result is None:
            self.update("", layout=False)
            return
        # Text, never a markup string: the sentence may quote scanned text.
        self.update(Text(_MARKS[result.tone] + result.text), layout=False)
