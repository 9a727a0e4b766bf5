"""Operator-facing wording shared by the rules, the station and the screens: counts of things.

In ``domain`` so the rules' refusals can use it too; pure string functions, nothing else.
"""

from __future__ import annotations

from datetime import datetime


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one: ``plural(1, "unit")`` is ``"1 unit"``.

    Args:
        n: the count.
        word: the singular noun.
        words: the plural noun when it is not ``word`` + "s".
    """
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def agree(n: int, one: str, many: str) -> str:
    """The word that agrees with a count: ``agree(1, "is", "are")`` is ``"is"``.

    For the verb after a count (``"1 unit is"``, ``"2 units are"``), or a pronoun.
    """
    return one if n == 1 else many


def units(n: int) -> str:
    """``"1 unit"``, ``"3 units"``."""
    return plural(n, "unit")


def lines(n: int) -> str:
    """``"1 line"``, ``"3 lines"``."""
    return plural(n, "line")


def orders(n: int) -> str:
    """``"1 order"``, ``"3 orders"``."""
    return plural(n, "order")


def entries(n: int) -> str:
    """``"1 entry"``, ``"3 entries"``."""
    return plural(n, "entry", "entries")


def waited(since: datetime | None, now: datetime) -> str:
    """How long units have sat there, in words short enough for a table cell."""
    if since is None:
        return "—"
    minutes = max(int((now - since).total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"
