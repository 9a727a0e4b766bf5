"""Moved to :mod:`putback_tui.wire` (shared by the terminal and the central store).

A re-export kept while other branches still import this path; import ``putback_tui.wire``.
"""

from putback_tui.wire import *  # noqa: F403
