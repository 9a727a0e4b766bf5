"""The screens' repaint timer: at most one repaint a frame, and never a frame more than that.

Textual repaints a screen from a timer (``Screen._update_timer``) that ticks on a fixed grid of
60 points a second: a change waits for the next grid point. When a repaint ends after the next
grid point (a reloaded order screen, a busy machine), Textual's timer (``Timer._run``, 8.2.8)
skips ahead to ``int((now - start) / interval + 1)`` and then waits for the grid point after
*that*: the next change waits up to two frames (33 ms) instead of at most one. That was the
slowest tenth of the order opens of the latency benchmark (an order opened over the same kind
of screen: the scan handled 2-6 ms after its Enter, the screen shown 22-27 ms after it;
docs/performance-log.md, "The list read by a helper process").

:class:`FrameTimer` keeps what the grid is for, at most one repaint per frame, without the
grid: a change is painted at once when the screen's last repaint is a frame or more ago, else
when it is (a tick while the screen is not in front paints nothing and does not count). The
screen pauses and resumes it exactly as it does Textual's.

:func:`hand_over_changes` keeps a screen's "after the repaint" callbacks (``call_after_refresh``,
the App's mark that a scan's outcome is on screen) after the repaint of every change made
before them.
"""

from __future__ import annotations

from typing import Any

from textual import _time, messages
from textual.screen import UPDATE_PERIOD, Screen
from textual.timer import EventTargetGone, Timer
from textual.widget import Widget


def frame_wait(last_tick: float, interval: float, now: float) -> float:
    """Seconds to wait before the next tick: none once ``interval`` has passed since the last."""
    return max(0.0, last_tick + interval - now)


class FrameTimer(Timer):
    """A repeating timer that ticks when resumed, at most once per ``interval``."""

    async def _run(self) -> None:
        """Tick each time it is active, and at least ``interval`` after the last tick."""
        count = 0
        last_tick = float("-inf")
        while self._repeat is None or count <= self._repeat:
            await self._active.wait()
            self._reset = False
            wait = frame_wait(last_tick, self._interval, _time.get_time())
            if wait > 0:
                await _time.sleep(wait)
                await self._active.wait()  # still wanted (a layout in between may pause it)
            now = _time.get_time()
            target = self._target()
            if target is None or getattr(target, "is_current", True):
                # A repaint (a screen not in front paints nothing, and must not make its
                # first repaint when it comes back wait for a frame of its own).
                last_tick = now
            count += 1
            try:
                await self._tick(next_timer=now, count=count)
            except EventTargetGone:
                break


def frame_timer(screen: Screen[Any]) -> Timer:
    """A screen's repaint timer: a :class:`FrameTimer`, made as Textual makes its own."""
    timer = FrameTimer(
        screen, UPDATE_PERIOD, name="screen_update", callback=screen._on_timer_update, pause=True
    )
    timer._start()
    screen._timers.add(timer)
    return timer


def hand_over_changes(screen: Screen[Any]) -> bool:
    """Before a screen runs its "after the repaint" callbacks: bring it the changes on the way.

    A widget's change reaches its screen only when the *widget* is next idle (it posts
    ``messages.Update`` then), and Textual (8.2.8) tells a screen it is idle even while it holds
    the next message aside, unhandled, after looking at it (``_pending_message``). So a screen
    could run ``call_after_refresh`` callbacks with a change still on its way, and paint it a
    frame later: a refused scan (only its result line changes) counted as shown before its
    refusal was painted, and the next scan's repaint waited a frame for that late one. Here each
    widget with a change neither reported nor painted yet reports it now (what it would do when
    idle), so the screen paints it before the callbacks run. A change a whole-screen repaint
    already drew (a screen brought forward draws every widget as it is) waits for nothing.

    Returns:
        True when a repaint request of an unpainted change is now waiting in the screen's
        queue: the screen is not idle yet (it will be once it has handled it).
    """
    before: int = screen._message_queue.qsize()
    for widget in screen.walk_children(Widget):
        if (widget._repaint_required or widget._layout_required) and _unpainted(widget):
            widget._check_refresh()
    pending = screen._pending_message
    return screen._message_queue.qsize() > before or (
        isinstance(pending, (messages.Update, messages.Layout))
        and isinstance(pending.widget, Widget)
        and _unpainted(pending.widget)
    )


def _unpainted(widget: Widget) -> bool:
    """True when lines of ``widget`` changed since it was last drawn."""
    return bool(widget._styles_cache._dirty_lines)
