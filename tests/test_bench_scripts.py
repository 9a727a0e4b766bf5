"""The benchmarks' own code against the product as it is now.

The scripts in ``scripts/`` are not part of the package and no command of the product calls
them: when the code they measure changes under them, nothing else notices. ``bench-ledger``'s
drain read the central store's answer the way the sync worker did before session 9 and crashed
on every run that drained (``scripts/bench-ledger`` without ``--drain 0``, and ``scripts/bench``).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_ledger
import bench_sync

ROOT = Path(__file__).resolve().parents[1]


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


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def test_bench_sync_real_drain_answers_every_entry_of_the_backlog(tmp_path: Path) -> None:
    """(r) in its smallest form, as a user runs it: it completes, and its counts add up.

    The backlog is releases and put-backs; every entry is answered, none refused; the central
    store had released the exception orders on import, so the terminal's releases come back
    ``already_released``.
    """
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "scripts/bench_sync.py", "--only", "r", "--engine", "sqlite",
         "--runs", "1", "--real-orders", "300", "--json", str(out)],
        cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True, text=True,
        timeout=300, check=False,
    )

    assert done.returncode == 0, done.stderr
    made = re.search(r"ledger: ([\d,]+) entries waiting \(put_back ([\d,]+), release ([\d,]+)\)",
                     done.stdout)
    held = re.search(r"backlog ([\d,]+) entries: ([\d,]+) releases, ([\d,]+) put-backs; "
                     r"([\d,]+) batches, ([\d,]+) holding a release \(([\d,]+) entries\); "
                     r"answers: (.*)", done.stdout)
    assert made is not None, done.stdout
    assert held is not None, done.stdout
    waiting, put_backs, releases = (_count(g) for g in made.groups())
    entries, held_releases, held_put_backs, batches, with_release, in_those = (
        _count(g) for g in held.groups()[:6]
    )
    answers = {code: _count(k) for code, k in (a.split(" ") for a in held[7].split(", "))}
    assert waiting == entries == releases + put_backs == held_releases + held_put_backs
    assert releases > 0
    assert put_backs > 0
    assert 1 <= with_release <= batches
    assert releases <= in_those <= entries
    assert sum(answers.values()) == entries
    assert answers["already_released"] > 0
    assert set(answers) <= {"applied", "already_released", "applied_as_derived"}
    figure = json.loads(out.read_text())["real_drain_sqlite"]
    assert figure["entries"]["median"] == entries
    assert figure["answers_refused"]["max"] == 0
    assert figure["ratio"]["median"] > 0


def test_bench_sync_real_drain_fails_when_an_entry_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A figure of a drain whose entries were refused is no figure: (r) ends FAILED.

    The central store is told the supervisor who put the units back is no longer active.
    """
    data = bench_sync.real_set(tmp_path, 300)
    real = bench_sync.real_ledger(data, tmp_path, 30)
    template = str(tmp_path / "template.sqlite3")
    token = bench_sync.real_central(template, data, real)
    with sqlite3.connect(template) as db:
        db.execute("UPDATE operators SET active = 0 WHERE badge = 'SV-0001'")
    db.close()
    central = bench_sync.copy_database("sqlite", template, str(tmp_path / "c.sqlite3"), None)

    with pytest.raises(SystemExit) as failed:
        bench_sync.real_drain("sqlite", central, token, real, 1000, tmp_path, None, "t")

    assert failed.value.code == 1
    message = capsys.readouterr().err
    assert "bench-sync: FAILED: drain of a real ledger into sqlite" in message
    assert f"{real.kinds['put_back']} refused" in message


def test_bench_sync_real_drain_ends_with_the_terminal_holding_what_the_central_store_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """(r) at its quick size: after the round the terminal agrees with the central store.

    Until session 14, (r) set the terminal's pull cursor to where the central store stood after
    its import, a state no terminal reaches: the round's pull then left 5,722 of the 10,000 ATP
    figures different from the central store's. A terminal loaded from a file starts at cursor
    0; its first round pulls a full snapshot. The comparison itself names what differs.
    """
    data = bench_sync.real_set(tmp_path, 10_000)
    real = bench_sync.real_ledger(data, tmp_path, 1_000)
    template = str(tmp_path / "template.sqlite3")
    token = bench_sync.real_central(template, data, real)
    central = bench_sync.copy_database("sqlite", template, str(tmp_path / "c.sqlite3"), None)

    figure = bench_sync.real_drain("sqlite", central, token, real, 1000, tmp_path, None, "t")

    ledger = tmp_path / "sqlite-t-terminal.sqlite3"
    compared = bench_sync.ledger_against_central(ledger, central, real.facility)
    assert {name: d.keys for name, d in compared.items() if d.keys} == {}
    assert {"QOH", "ATP", "line progress", "orders", "reconciled orders"} <= set(compared)
    assert compared["ATP"].compared == 10_000
    assert figure["entries"] == sum(real.kinds.values())
    assert 0 < figure["push_s"] < figure["round_s"]
    with sqlite3.connect(central) as db:
        db.execute("UPDATE stock_atp SET atp = atp + 1 WHERE sku = 'SKU-0000002'")
    db.close()
    with pytest.raises(SystemExit):
        bench_sync.check_reached("(r)", ledger, central, real.facility)
    assert "ATP 1 of 10,000 keys (first ('SKU-0000002',))" in capsys.readouterr().err
