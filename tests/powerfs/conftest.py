"""The power-loss filesystem as a fixture: mounted over ``tmp_path``, unmounted after the test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.powerfs.mount import PowerLossMount, available


@pytest.fixture
def fuse_works() -> None:
    """Skip the test where FUSE cannot mount (not root, no /dev/fuse, no fuse3).

    CI sets ``PUTBACK_REQUIRE_FUSE=1`` where /dev/fuse exists, so that it fails instead.
    """
    why_not = available()
    if why_not is not None:
        if os.environ.get("PUTBACK_REQUIRE_FUSE") == "1":
            pytest.fail(f"the power-loss filesystem cannot mount: {why_not}")
        pytest.skip(f"the power-loss filesystem cannot mount: {why_not}")


@pytest.fixture
def powerloss(fuse_works: None, tmp_path: Path) -> Iterator[PowerLossMount]:
    """A mounted power-loss filesystem (``.mountpoint``), unmounted after the test."""
    mount = PowerLossMount(tmp_path / "disk", tmp_path / "mnt").start()
    try:
        yield mount
    finally:
        mount.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here mounts the power-loss filesystem: mark them so ``-m`` can pick them."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.powerloss)
