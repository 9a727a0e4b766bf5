"""Operator-facing wording shared by the rules, the station and the screens: counts of things.

In ``domain`` so the rules' refusals can use it too; pure string functions, nothing else.
"""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one: ``plural(1, "unit")`` is ``"1 unit"``.

    Args:
        n: the count.
        word: the singular noun.
        words: the plural noun when it is not ``word`` + "s".
    """
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def units(n: int) -> str:
    """``"1 unit"``, ``"3 units"``."""
    return plural(n, "unit")


def lines(n: int) -> str:
    """``"1 line"``, ``"3 lines"``."""
    return plural(n, "line")
