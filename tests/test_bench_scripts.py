"""The benchmarks' own code against the product as it is now.

The scripts in ``scripts/`` are not part of the package and no command of the product calls
them: when the code they measure changes under them, nothing else notices. ``bench-ledger``'s
drain read the central store's answer the way the sync worker did before session 9 and crashed
on every run that drained (``scripts/bench-ledger`` without ``--drain 0``, and ``scripts/bench``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_ledger


def test_bench_ledger_drains_every_put_back_it_made(demo_ledger: Ledger, tmp_path: Path) -> None:
    """The drain records an answer for every entry, batch by batch, and times each phase.

    (It checks itself that nothing is left unanswered: it exits with FAILED otherwise.)
    """
    source = demo_ledger.path
    demo_ledger.close()
    made = bench_ledger.make_entries(source, tmp_path, 4)
    ledger = Ledger(made, create=False)
    with ledger.read() as tx:
        waiting = book.counts(tx).waiting
    ledger.close()
    assert waiting >= 4

    drained, spent, baseline = bench_ledger.drain_run(made, 3)

    assert drained == waiting
    assert set(spent) == set(bench_ledger.DRAIN_PHASES)
    assert baseline > 0
