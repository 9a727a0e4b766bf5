"""Files shipped inside the package: the demo data set and the deployment files.

They live in ``putback_tui/data/`` and are found through ``importlib.resources``, so an installed
wheel (``pipx install``, ``uv tool install``, the terminal installer's venv) has them as well as
a source checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def packaged_path(*parts: str) -> Path:
    """The path of a file or directory under ``putback_tui/data`` in the installed package.

    Raises:
        RuntimeError: the package was imported from a zip file, where its data has no path.
    """
    resource = files("putback_tui").joinpath("data", *parts)
    if not isinstance(resource, Path):
        raise RuntimeError(
            f"putback's packaged data ({resource}) is not a file on disk: install putback "
            "with pip, pipx or uv, not as a zip file."
        )
    return resource


DEMO_DIR = packaged_path("demo")
"""The demo data set (``putback init --demo``, ``scripts/demo``, the tests)."""

DEPLOY_DIR = packaged_path("deploy")
"""The udev rule, the systemd units and the kiosk's wrappers (``scripts/install-terminal``)."""

UDEV_RULE_PATH = DEPLOY_DIR / "70-putback-scanner.rules"
"""The udev rule that gives barcode scanners (and no other keyboard) to the putback group."""
