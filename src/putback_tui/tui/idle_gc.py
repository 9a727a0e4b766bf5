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
  usual, in 0.1-2 ms steps.
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
        if self._thresholds is None:
            return
        gc.unfreeze()
        gc.set_threshold(*self._thresholds)
        self._thresholds = None

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
