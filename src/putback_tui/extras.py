"""Optional parts of putback (pip extras) and the message a command gives when one is missing.

A packing-station terminal installs ``putback`` alone; the central store needs the ``central``
extra (FastAPI, uvicorn, psycopg), HID scanners the ``scanners`` extra (evdev) and the dashboard
in a browser the ``web`` extra (textual-serve).
"""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {
    "central": ("fastapi", "uvicorn", "psycopg"),
    "scanners": ("evdev",),
    "web": ("textual_serve",),
}
"""Each extra and the modules it brings (as ``pyproject.toml`` declares them)."""

WHAT_NEEDS: dict[str, str] = {
    "central": "The central store",
    "scanners": "Reading HID scanners",
    "web": "Serving the dashboard to browsers (--web)",
}


class MissingExtraError(RuntimeError):
    """A command needs an extra that is not installed; the message says how to install it."""


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (none: the extra is installed)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def install_hint(extra: str, missing: list[str]) -> str:
    """One sentence: what is missing, and the commands that install the extra."""
    return (
        f"{WHAT_NEEDS[extra]} needs putback's '{extra}' extra ({', '.join(missing)} not "
        f"installed): install putback as 'putback[{extra}]', e.g. pip install 'putback[{extra}]' "
        "(pipx and uv tool: install again with the extra; see docs/installing.md)."
    )


def require_extra(extra: str) -> None:
    """Check that ``extra`` is installed.

    Raises:
        MissingExtraError: one of its modules is missing; the message says what to install.
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(install_hint(extra, missing))
