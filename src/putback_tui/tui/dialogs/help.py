"""F1 help: the keys, how scanning works, and (on the demo data set) the codes to try."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from putback_tui.help_panel import HelpPanel, Rows

if TYPE_CHECKING:
    from putback_tui.tui.app import PutbackApp

KEYS = (
    ("F1", "This help (again to close)"),
    ("F2", "Supervisor menu: bulk reject, exception area, refused entries, report"),
    ("Enter", "End typed text (an order ID, a quantity, a lot); choose the highlighted line"),
    ("↑ ↓", "Move between lines"),
    ("Esc", "Back one step (clears typed text first); nothing recorded is lost"),
    ("Ctrl+Z", "Undo the last confirmed put-back of the order in hand"),
    ("Ctrl+Q", "Quit (every confirmed put-back is already saved)"),
)

DEMO_CODES = (
    ("Badges", "OP-0001 (operator)  SV-0001 (supervisor)"),
    ("Orders", "D-1001 nothing picked · D-1002 all picked · D-1003 partly picked\n"
               "D-1004 deleted · D-1005 live · D-1006 shipped · D-1007 lot-tracked\n"
               "D-1008 live, partly picked (try F4, then F5 as SV-0001)"),
    ("Locations", "LOC:A-01-01  LOC:A-01-02  LOC:A-02-01  LOC:A-02-02\n"
                  "LOC:A-03-01  LOC:B-01-01  LOC:EX-01 (exception)"),
    ("T-shirt", "4006381333931"),
    ("Mug", "5901234123457"),
    ("Socks", "012345678905"),
    ("Cap", "9780201379624"),
    ("Bottle", "96385074"),
    ("First-aid kit", "]C1010950110153000310AB-123 (one GS1 label with lot AB-123), or scan\n"
                      "09501101530003 and type AB-123 when the screen asks for the lot"),
)
"""What to type to try every case of the demo data set (each followed by Enter)."""


class HelpDialog(HelpPanel):
    """Keys and scanning rules; a scan while it is open closes it and goes through."""

    def sections(self) -> list[tuple[str, Rows | str]]:
        """Keys, scanning, and the demo's codes when the demo data is loaded."""
        app = cast("PutbackApp", self.app)
        parts: list[tuple[str, Rows | str]] = [
            ("Keys", KEYS),
            (
                "Scanning",
                "Scan anywhere: a code is recognised by what it is (badge, order, location, "
                "item). Typing a code and pressing Enter works the same. A second read of the "
                f"same code within {app.settings.scan.double_read_ms} ms is ignored "
                f"({app.double_reads.dropped} so far).",
            ),
        ]
        if app.demo:
            parts.append(("Demo codes", DEMO_CODES))
        return parts
