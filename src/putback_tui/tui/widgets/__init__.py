"""Widgets: the App's state (result, status, typed line, location sign, keys) and a table."""

from putback_tui.tui.widgets.headline import Headline
from putback_tui.tui.widgets.key_footer import KeyFooter
from putback_tui.tui.widgets.line_table import Column, LineTable, Row
from putback_tui.tui.widgets.location_sign import LocationSign
from putback_tui.tui.widgets.result_line import ResultLine
from putback_tui.tui.widgets.status_bar import StatusBar
from putback_tui.tui.widgets.typed_line import TypedLine

__all__ = [
    "Column",
    "Headline",
    "KeyFooter",
    "LineTable",
    "LocationSign",
    "ResultLine",
    "Row",
    "StatusBar",
    "TypedLine",
]
