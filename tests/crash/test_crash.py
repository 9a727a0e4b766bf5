"""The short crash run: 50 SIGKILLs of the terminal and the central store, every promise checked
after every round (see :mod:`tests.crash.harness`; ``scripts/crash`` runs the long version).

Each kill comes after the terminal has started a number of calls (1 to 30, drawn from the seed),
not after a random wait: a slow machine does the same work as a fast one, only slower, and a fast
one cannot pass with less.
"""

from __future__ import annotations

from pathlib import Path

from tests.crash.harness import Harness


def test_fifty_kills_lose_nothing_and_apply_nothing_twice(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "crash", seed=7, max_calls=30)
    try:
        harness.setup()
        tally = harness.run(50)
    finally:
        harness.close()
    assert sum(tally.kills.values()) == 50
    assert tally.lost == 0
    assert tally.duplicated == 0
    # The work, whatever the machine's speed: every call asked for was started before its kill,
    # so all but the one in flight at each kill finished (confirmed, refused or failed).
    assert tally.calls_asked > 500
    assert tally.finished_calls >= tally.calls_asked - tally.rounds
    assert tally.confirmed >= 25  # entries made (most calls on the demo data are refusals)
    assert tally.drains > 10  # the backlog was drained and checked many times
    assert tally.outage_rounds > 0  # some rounds ran with the central store down
    assert tally.ledger_errors == 0  # sync never held the ledger long enough to fail a scan
    # One terminal: the central store agrees with it. A release of units the central store
    # released itself (at import) is answered "already released", never refused.
    assert tally.central_refused == 0
    assert tally.refused_releases == 0
