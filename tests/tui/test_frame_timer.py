"""The screens' repaint timer (``putback_tui.tui.frame_timer``): at most one repaint a frame,
and a change after a pause painted at once, not on Textual's grid one frame too late.
"""

from __future__ import annotations

import pytest

from putback_tui.tui.app import PutbackApp
from putback_tui.tui.frame_timer import FrameTimer, frame_wait
from putback_tui.tui.screens.live_order import LiveOrderScreen
from putback_tui.tui.screens.order import OrderScreen

from .conftest import scan, screen_text
from .test_supervisor_flows import sign_in

FRAME = 1 / 60


def test_a_change_a_frame_or_more_after_the_last_repaint_is_painted_at_once() -> None:
    # The last repaint 23 ms ago (Textual's grid would wait for its next point, or the one
    # after it when that repaint ran late): now.
    assert frame_wait(10.000, FRAME, 10.023) == 0
    assert frame_wait(10.000, FRAME, 10.0167) == 0


def test_a_change_within_a_frame_of_the_last_repaint_waits_for_the_rest_of_it() -> None:
    assert frame_wait(10.000, FRAME, 10.005) == pytest.approx(FRAME - 0.005)


async def test_the_working_screens_repaint_by_the_frame_timer(app: PutbackApp) -> None:
    """Order screen, then one live order over another (D-1008, then D-1005: the reload of
    the screen in front, which Textual's timer painted a frame late): each shows its scan.
    """
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        assert isinstance(app.screen, OrderScreen)
        assert isinstance(app.screen._update_timer, FrameTimer)
        await scan(pilot, "D-1008")
        assert isinstance(app.screen, LiveOrderScreen)
        assert isinstance(app.screen._update_timer, FrameTimer)
        assert "D-1008" in screen_text(app)
        await scan(pilot, "D-1005")
        assert isinstance(app.screen, LiveOrderScreen)
        assert "D-1005" in screen_text(app)
        assert "D-1008" not in screen_text(app)


async def test_one_live_order_over_another_is_drawn_without_laying_the_screen_out(
    app: PutbackApp,
) -> None:
    """D-1008, then D-1005: the same screen with other words in the same number of lines.

    Laying the whole screen out again took 2-3 ms of each such scan (the actions note was
    rewritten with a layout every time); only a change in a part's height needs one.
    """
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1008")
        screen = app.screen
        assert isinstance(screen, LiveOrderScreen)
        layouts = 0
        lay_out = screen._refresh_layout

        def counted(*args: object, **kwargs: object) -> None:
            nonlocal layouts
            layouts += 1
            lay_out(*args, **kwargs)  # type: ignore[arg-type]

        screen._refresh_layout = counted  # type: ignore[method-assign]
        await scan(pilot, "D-1005")
        assert app.screen is screen
        assert "D-1005" in screen_text(app)
        assert layouts == 0
