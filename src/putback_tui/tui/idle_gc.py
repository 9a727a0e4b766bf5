"""Full garbage collections between scans, not in the middle of one.

Python's collector looks at every tracked object of the process now and then (a "generation 2"
collection). In the running app that took 70-80 ms, with all of Textual's and the app's objects
in the heap: a scan that landed on one showed its result that much later, which made the slowest
scans of the latency benchmark. Two changes, both undone when the app stops:

- everything that exists once the app is up (classes, stylesheets, screens...) is frozen out of
  collection (``gc.freeze``): it lives as long as the app, and a full collection then walks only
  what came after (24 ms instead of 72 in the benchmark);
- full collections wait for a pause: one runs once no key or scan has arrived for
  ``idle_s`` seconds, and Python's own trigger is pushed far out, so it fires only if the
  operator never pauses at all (thousands of scans). Young objects are still collected as
  usual, in 0.1-2 ms steps;
- and none at all while a scan is handled (:meth:`IdleCollector.hold`, from its Enter until its
  outcome is on screen): the collections of the younger generations then run right after it.
  A generation-1 collection took 1.3-6.5 ms and landed in about one scan in ten of the
  latency benchmark (docs/performance-log.md, "What the slowest order opens were").
"""

from __future__ import annotations

import gc
from collections.abc import Callable

DEFERRED_THRESHOLD = 1000
"""Collections of generation 1 before Python runs a full one by itself (its default is 10)."""


class IdleCollector:
    """Runs the full collections while nobody waits for the screen."""

    def __init__(self, monotonic: Callable[[], float], idle_s: float = 1.0) -> None:
        """Collect once ``idle_s`` seconds have passed without a key or scan.

        Args:
            monotonic: The app's clock (seconds).
            idle_s: How long a pause has to be before a full collection runs in it.
        """
        self.monotonic = monotonic
        self.idle_s = idle_s
        self.collections = 0
        """Full collections run in pauses so far."""
        self._last_activity = monotonic()
        self._thresholds: tuple[int, int, int] | None = None
        self._held = False

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thresholds is not None

    def start(self) -> None:
        """Freeze what exists now and defer full collections (once the app is up)."""
        if self._thresholds is not None:
            return
        gc.collect()
        gc.freeze()
        self._thresholds = gc.get_threshold()
        young, middle, _ = self._thresholds
        gc.set_threshold(young, middle, DEFERRED_THRESHOLD)

    def stop(self) -> None:
        """Give the frozen objects back to the collector and restore Python's thresholds."""
        self.release()
        if self._thresholds is None:
            return
        gc.unfreeze()
        gc.set_threshold(*self._thresholds)
        self._thresholds = None

    @property
    def held(self) -> bool:
        """True between :meth:`hold` and :meth:`release`."""
        return self._held

    def hold(self) -> None:
        """A scan is being handled: no collection at all until :meth:`release`.

        Only while running (between :meth:`start` and :meth:`stop`), and only when the
        collector was enabled: the collections it holds back run at the next allocation after
        :meth:`release` (a scan allocates a few thousand objects: nothing piles up).
        """
        if self._thresholds is None or self._held or not gc.isenabled():
            return
        self._held = True
        gc.disable()

    def release(self) -> None:
        """The scan's outcome is on screen: collections run again (what was due, at once)."""
        if self._held:
            self._held = False
            gc.enable()

    def activity(self, at: float) -> None:
        """A key or a scan arrived at ``at`` (the clock's seconds): someone waits for the screen."""
        self._last_activity = at

    def tick(self) -> bool:
        """Called now and then (every second): collect if idle and anything is due.

        Returns:
            True when a full collection ran.
        """
        if self._thresholds is None or self.monotonic() - self._last_activity < self.idle_s:
            return False
        if gc.get_count()[2] == 0:  # no generation-1 collection since the last full one
            return False
        gc.collect()
        self.collections += 1
        return True
