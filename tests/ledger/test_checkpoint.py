"""The ledger's WAL is checkpointed on a thread of its own, never inside an action's commit.

What an engineer would notice: the action's commit leaves the WAL alone (it only appends), the
checkpointer copies it into the database file and keeps it bounded (even after a reader held an
old snapshot), and closing leaves every row in the database file.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from putback_tui.ledger import Ledger
from putback_tui.ledger.checkpoint import CHANGES_PER_CHECKPOINT, WAL_LIMIT_BYTES
from putback_tui.ledger.store import read_snapshot
from putback_tui.station import Station
from tests.ledger.test_faults import demo_station

SRC = Path(__file__).resolve().parents[2] / "src"
FRAME = 4096 + 24
"""A WAL frame: a page of the ledger and its header."""


def _wal(ledger: Ledger) -> Path:
    return ledger.path.with_name(ledger.path.name + "-wal")


def _scan(station: Station, i: int) -> None:
    """One action: a put-back of one unit, or its undo."""
    station.open_order("D-1002")
    if i % 2 == 0:
        station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    else:
        station.undo_last_put_back("D-1002")


def _burst_until_wal_exceeds(station: Station, ledger: Ledger, size: int, most: int) -> int:
    """Actions until the WAL file is larger than ``size`` bytes (at most ``most``); how many.

    The first undoes a put-back (``_scan(station, 0)`` came before); the number is even when the
    last one was a put-back.
    """
    for i in range(1, most):
        _scan(station, i)
        if _wal(ledger).stat().st_size > size:
            return i
    raise AssertionError(f"{most} actions and the WAL is still {_wal(ledger).stat().st_size} B")


def _entries_in_database_file(ledger: Ledger, tmp_path: Path) -> int:
    """Entries the database file holds by itself, without its WAL.

    Copied by another process: a file of a ledger open here is never opened and closed by this
    process outside SQLite (its locks would go; see ``_HELD`` in the ledger's store).
    """
    copy = tmp_path / "database-file-only.sqlite3"
    copy.unlink(missing_ok=True)
    subprocess.run(["cp", str(ledger.path), str(copy)], check=True)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
    finally:
        conn.close()


def _digest_in_another_process(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import hashlib,sys;"
         "print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())", str(path)],
        capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def test_an_actions_commit_never_checkpoints(station: Station, demo_ledger: Ledger) -> None:
    """With the checkpointer held, a burst grows the WAL past SQLite's 1,000-page automatic
    checkpoint and the database file is not written at all: no action copied the WAL.
    """
    checkpointer = demo_ledger.checkpointer
    assert checkpointer is not None
    _scan(station, 0)  # the checkpointer's thread runs from the first commit
    with checkpointer.paused():
        before = _digest_in_another_process(demo_ledger.path)
        start = _wal(demo_ledger).stat().st_size
        done = _burst_until_wal_exceeds(station, demo_ledger, start + 1_500 * FRAME, 3_000)
        assert _digest_in_another_process(demo_ledger.path) == before
    assert done > 1
    with demo_ledger.read() as tx:
        assert tx.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0


def test_the_checkpointer_copies_a_burst_into_the_database_file(
    station: Station, demo_ledger: Ledger, tmp_path: Path
) -> None:
    """A burst wakes the checkpointer by itself; afterwards the database file alone holds
    the entries, and the WAL stays at its limit.
    """
    checkpointer = demo_ledger.checkpointer
    assert checkpointer is not None
    start = checkpointer.checkpoints
    # Each action changes at least four rows: this is three times the mark or more, and ends
    # with an undo.
    for i in range(2 * (3 * CHANGES_PER_CHECKPOINT // 8 + 1)):
        _scan(station, i)
    deadline = time.monotonic() + 60
    while checkpointer.checkpoints == start:
        assert time.monotonic() < deadline, "the checkpointer never ran"
        time.sleep(0.01)
    last = checkpointer.checkpoint()  # and once more now: everything up to here
    assert last is not None
    assert last.copied_frames == last.log_frames
    assert _entries_in_database_file(demo_ledger, tmp_path) == demo_ledger.last_seq()
    _scan(station, 0)  # the next commit starts the WAL over, cut to its limit
    assert _wal(demo_ledger).stat().st_size <= WAL_LIMIT_BYTES


def test_a_wal_past_its_limit_is_cut_back_once_a_reader_lets_go(
    station: Station, demo_ledger: Ledger
) -> None:
    """A reader holding an old snapshot keeps SQLite from starting the WAL over, so it grows
    past the limit while actions go on; once the reader is done, the checkpointer truncates it.
    """
    checkpointer = demo_ledger.checkpointer
    assert checkpointer is not None
    _scan(station, 0)
    with read_snapshot(demo_ledger.path) as old:
        first = old.conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        done = _burst_until_wal_exceeds(station, demo_ledger, WAL_LIMIT_BYTES, 20_000)
        held = checkpointer.checkpoint()
        assert held is not None
        assert held.busy  # the reader's snapshot is still there
        assert old.conn.execute("SELECT count(*) FROM entries").fetchone()[0] == first
    assert _wal(demo_ledger).stat().st_size > WAL_LIMIT_BYTES
    cut = checkpointer.checkpoint()
    assert cut is not None
    assert not cut.busy
    assert _wal(demo_ledger).stat().st_size == 0
    _scan(station, done + 1)
    assert demo_ledger.check() == []


def test_closing_keeps_every_row_and_stops_the_thread(tmp_path: Path) -> None:
    """A ledger closed after a burst reopens with every entry; no checkpoint thread is left."""
    path = tmp_path / "putback.sqlite3"
    ledger, station = demo_station(path)
    for i in range(500):
        _scan(station, i)
    entries = ledger.last_seq()
    ledger.close()
    assert not [t for t in threading.enumerate() if t.name == f"putback-checkpoint {path}"]
    assert not path.with_name(path.name + "-wal").exists()  # the last close checkpointed
    again = Ledger(path, create=False)
    try:
        assert again.last_seq() == entries
        assert again.check() == []
        assert again.rebuild_stock() == _projections(again)
    finally:
        again.close()


def _projections(ledger: Ledger) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    qoh, atp = ledger.stock()
    return {(s, loc): n for s, loc, n in qoh}, dict(atp)


COMMAND = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from putback_tui.config import Settings
    from putback_tui.ledger import Ledger
    from putback_tui.station import Station
    ledger = Ledger(Path(sys.argv[1]), create=False)
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    ledger.close()
    """
)


def test_a_short_command_beside_the_app_leaves_the_database_file_current(
    demo_ledger: Ledger, tmp_path: Path
) -> None:
    """A command that writes one entry while the app holds the ledger open (so SQLite's last
    close does not checkpoint) copies it into the database file before it exits.
    """
    checkpointer = demo_ledger.checkpointer
    assert checkpointer is not None
    checkpointer.checkpoint()
    before = _entries_in_database_file(demo_ledger, tmp_path)
    subprocess.run(
        [sys.executable, "-c", COMMAND, str(demo_ledger.path)],
        env={**os.environ, "PYTHONPATH": str(SRC)}, check=True, timeout=60,
    )
    assert demo_ledger.last_seq() == before + 1
    assert _entries_in_database_file(demo_ledger, tmp_path) == before + 1
