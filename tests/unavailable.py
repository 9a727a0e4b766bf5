"""What a test does when a part it needs is missing here: fail, or skip when someone asked to.

A test that cannot run its real part (PostgreSQL, a tmpfs mount, root, systemd-analyze, evdev,
Chromium)
calls :func:`unavailable` instead of ``pytest.skip``. Whether that skips or fails:

* in CI (``CI`` set to true/1/yes) every part must be there: it fails, with the reason;
* elsewhere a missing PostgreSQL fails too (59 tests would otherwise skip quietly); the other
  parts skip, and the end of the run lists them under "not run" with their reasons;
* ``PUTBACK_ALLOW_SKIP`` (a comma-separated list of the names below, or ``all``) turns the
  failure into a skip for the parts it names, in CI too: a decision somebody made, and the
  run's "not run" list still says what was left out.

Names: ``postgres``, ``tmpfs``, ``root``, ``systemd-analyze``, ``evdev``, ``chromium``.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

ALLOW_SKIP = "PUTBACK_ALLOW_SKIP"
NAMES = ("postgres", "tmpfs", "root", "systemd-analyze", "evdev", "chromium")
REQUIRED_OUTSIDE_CI = frozenset({"postgres"})
"""Parts whose absence fails even a developer's run unless ``PUTBACK_ALLOW_SKIP`` names them."""


def in_ci() -> bool:
    """True when the ``CI`` environment variable says this is a CI run."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def asked_to_skip(name: str) -> bool:
    """True when ``PUTBACK_ALLOW_SKIP`` names ``name`` (or says ``all``)."""
    asked = {part.strip() for part in os.environ.get(ALLOW_SKIP, "").split(",")}
    return name in asked or "all" in asked


def may_skip(name: str) -> bool:
    """Whether a test missing the part ``name`` may skip (else it fails)."""
    if name not in NAMES:
        raise ValueError(f"unknown part {name!r}: one of {', '.join(NAMES)}")
    if asked_to_skip(name):
        return True
    return not in_ci() and name not in REQUIRED_OUTSIDE_CI


def import_evdev() -> ModuleType:
    """The ``evdev`` package (a dependency on Linux), or :func:`unavailable` when missing."""
    try:
        return importlib.import_module("evdev")
    except ImportError as exc:
        unavailable("evdev", f"the evdev package cannot be imported ({exc})")


def unavailable(name: str, reason: str) -> NoReturn:
    """Skip or fail the current test because the part ``name`` is missing, saying why."""
    if may_skip(name):
        pytest.skip(f"{name}: {reason}")
    where = "in CI" if in_ci() else "by default"
    pytest.fail(
        f"{name} is needed and missing: {reason}. Tests needing it fail {where}; to skip them "
        f"instead (they are then listed as not run), set {ALLOW_SKIP}={name}.",
        pytrace=False,
    )
