"""The short power-cut run: 25 cuts with every promise checked after each (see
:mod:`tests.powerfs.harness`; ``scripts/powercut`` runs the long version).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.powerfs.harness import PowerCutHarness


@pytest.mark.slow
def test_power_cuts_lose_nothing_confirmed_and_leave_every_file_intact(
    fuse_works: None, tmp_path: Path
) -> None:
    harness = PowerCutHarness(tmp_path / "powercut", seed=11)
    try:
        harness.setup()
        harness.run(25)
    finally:
        harness.close()
    s = harness.summary()
    assert s["cuts"] == 25
    assert s["lost"] == 0
    assert s["duplicated"] == 0
    assert s["confirmed_entries"] > 25  # the terminal did real work between cuts
    assert s["drains_checked"] > 10  # ...and the central store was drained and checked
    assert s["connects_ok_checked"] >= 1
    assert s["backups_ok_checked"] >= 1
    assert s["unsynced_writes_lost"] > 0  # the cuts did take something away
