"""Widgets that render the App's state: result line, status bar, typed line, location sign, keys."""

from putback_tui.tui.widgets.key_footer import KeyFooter
from putback_tui.tui.widgets.location_sign import LocationSign
from putback_tui.tui.widgets.result_line import ResultLine
from putback_tui.tui.widgets.status_bar import StatusBar
from putback_tui.tui.widgets.typed_line import TypedLine

__all__ = ["KeyFooter", "LocationSign", "ResultLine", "StatusBar", "TypedLine"]
