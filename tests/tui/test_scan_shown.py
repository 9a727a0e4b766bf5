"""A scan is "shown" (``PutbackApp.scan_shown``) only once its outcome has been painted.

The App marks the moment a scan's outcome is on screen with ``call_after_refresh``: the
background reads of the worklist wait until then, and the latency benchmark stops its clock
there. Textual (8.2.8) ran those callbacks one message too early when a screen's only change
was its result line's (a refused scan): the line's repaint request was still waiting in the
screen's queue, so the refusal was painted after the scan counted as shown, one frame later.
"""

from __future__ import annotations

import re

from textual.screen import Screen
from textual.visual import VisualType

from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.tui.app import PutbackApp
from putback_tui.tui.screens.live_order import LiveOrderScreen
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.tui.screens.put_back import PutBackScreen

from .conftest import FROZEN, SteppingClock, scan, send_keys, settle
from .test_supervisor_flows import sign_in

CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class PaintedApp(PutbackApp):
    """The app, keeping what it paints as plain text."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.painted: list[str] = []
        """Every repaint, as the text a terminal would have received."""
        self.painted_when_shown: dict[str, str] = {}
        """For each scan: every repaint up to the moment it counted as shown, joined."""

    def _display(self, screen: Screen[object], renderable: VisualType | None) -> None:
        from textual._compositor import CompositorUpdate

        if isinstance(renderable, CompositorUpdate):
            self.painted.append(CSI.sub("", renderable.render_segments(self.console)))
        super()._display(screen, renderable)  # type: ignore[arg-type]

    def scan_shown(self, text: str) -> None:
        self.painted_when_shown[text] = "".join(self.painted)


def painted_app(ledger: Ledger, clock: SteppingClock) -> PaintedApp:
    from putback_tui.station import Station

    settings = Settings()
    return PaintedApp(Station(ledger, settings), settings, clock=lambda: FROZEN, monotonic=clock)


async def test_a_refused_scan_counts_as_shown_once_its_refusal_is_painted(
    demo_ledger: Ledger, clock: SteppingClock
) -> None:
    """A live order in front (D-1008), then an order not known here: only the result line
    changes. The refusal must be on screen when the scan counts as shown.
    """
    app = painted_app(demo_ledger, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1008")
        assert isinstance(app.screen, LiveOrderScreen)
        app.painted.clear()
        await scan(pilot, "D-9999")
        assert "Order D-9999 is not known here" in "".join(app.painted)  # painted in the end
        assert "Order D-9999 is not known here" in app.painted_when_shown["D-9999"]


async def test_every_scan_of_a_round_counts_as_shown_after_its_outcome_is_painted(
    demo_ledger: Ledger, clock: SteppingClock
) -> None:
    """Order screen, live order, put-back, refusals on each: each outcome painted first."""
    app = painted_app(demo_ledger, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        for text, screen, words in [
            ("D-9998", OrderScreen, "Order D-9998 is not known here"),
            ("D-1008", LiveOrderScreen, "Order D-1008 is live"),
            ("D-9997", LiveOrderScreen, "Order D-9997 is not known here"),
            ("D-1002", PutBackScreen, "Order D-1002"),
            ("D-9996", PutBackScreen, "Order D-9996 is not known here"),
        ]:
            app.painted.clear()
            clock.advance(1.0)
            send_keys(app, text + "\r")
            await settle(pilot)
            assert isinstance(app.screen, screen), text
            assert words in app.painted_when_shown[text], text


async def test_an_order_opened_from_the_worklist_is_shown_with_its_own_headline(
    demo_ledger: Ledger, clock: SteppingClock
) -> None:
    """D-1002 opened, Esc, then D-1004 from the order screen: the reused put-back screen's
    headline names D-1004 by the time the scan counts as shown, never D-1002.
    """
    app = painted_app(demo_ledger, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1002")
        assert isinstance(app.screen, PutBackScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OrderScreen)
        app.painted.clear()
        await scan(pilot, "D-1004")
        assert isinstance(app.screen, PutBackScreen)
        shown = app.painted_when_shown["D-1004"]
        assert "Order D-1004 (deleted)" in shown


async def test_a_put_back_counts_as_shown_once_its_confirmation_is_painted(
    demo_ledger: Ledger, clock: SteppingClock
) -> None:
    """D-1002, the socks (two units) to A-02-01: the first unit's confirmation (the location
    step stays in front, its result line and counts change) is painted before it counts as
    shown; so are the scans before it.
    """
    app = painted_app(demo_ledger, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        for text, words in [
            ("D-1002", "Order D-1002"),
            ("012345678905", "SOCKS-3PK: scan the location"),
            ("LOC:A-02-01", "A-02-01"),
        ]:
            app.painted.clear()
            await scan(pilot, text)
            assert words in app.painted_when_shown[text], text
        app.painted.clear()
        await scan(pilot, "012345678905")
        assert "Put back 1 unit of SOCKS-3PK to A-02-01" in app.painted_when_shown["012345678905"]
